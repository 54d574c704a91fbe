match("CommandLine", '\\s-[eE]nc(odedCommand)?\\s') AND match("ScriptBlockText", '(?ims)^iex.+downloadstring')
