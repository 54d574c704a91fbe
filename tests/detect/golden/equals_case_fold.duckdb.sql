LOWER("Image") = 'c:\windows\system32\cmd.exe'
