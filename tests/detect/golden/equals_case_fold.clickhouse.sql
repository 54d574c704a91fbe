lowerUTF8("Image") = 'c:\\windows\\system32\\cmd.exe'
