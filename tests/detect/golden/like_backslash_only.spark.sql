LOWER(`TargetFilename`) LIKE 'c:\\\\users\\\\%\\\\appdata\\\\roaming\\\\%.lnk' ESCAPE '\\'
