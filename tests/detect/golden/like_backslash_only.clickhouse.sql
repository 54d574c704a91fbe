lowerUTF8("TargetFilename") LIKE 'c:\\\\users\\\\%\\\\appdata\\\\roaming\\\\%.lnk'
