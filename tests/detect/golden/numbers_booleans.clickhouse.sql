"EventID" IN ('4688', '1') AND (lowerUTF8("Enabled") IN ('true', '1') AND "Value" = '')
