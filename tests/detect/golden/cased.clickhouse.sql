POSITION("ScriptBlockText", 'Invoke-Mimikatz') > 0 AND "Hash" LIKE 'A_B%'
