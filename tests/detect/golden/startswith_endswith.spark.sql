STARTSWITH(LOWER(`ParentImage`), 'c:\\program files\\') AND (ENDSWITH(LOWER(`Image`), '\\powershell.exe') OR ENDSWITH(LOWER(`Image`), '\\pwsh.exe'))
