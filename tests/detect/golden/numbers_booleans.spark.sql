`EventID` IN ('4688', '1') AND (LOWER(`Enabled`) IN ('true', '1') AND `Value` = '')
