`CommandLine` RLIKE '\\s-[eE]nc(odedCommand)?\\s' AND `ScriptBlockText` RLIKE '(?ims)^iex.+downloadstring'
