STARTS_WITH(LOWER("ParentImage"), 'c:\program files\') AND (ENDS_WITH(LOWER("Image"), '\powershell.exe') OR ENDS_WITH(LOWER("Image"), '\pwsh.exe'))
