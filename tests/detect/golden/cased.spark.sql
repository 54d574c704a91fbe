CONTAINS(`ScriptBlockText`, 'Invoke-Mimikatz') AND `Hash` LIKE 'A_B%' ESCAPE '\\'
