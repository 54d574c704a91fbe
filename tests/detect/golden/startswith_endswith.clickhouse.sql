startsWith(lowerUTF8("ParentImage"), 'c:\\program files\\') AND (endsWith(lowerUTF8("Image"), '\\powershell.exe') OR endsWith(lowerUTF8("Image"), '\\pwsh.exe'))
