REGEXP_MATCHES("CommandLine", '\s-[eE]nc(odedCommand)?\s') AND REGEXP_MATCHES("ScriptBlockText", '(?ims)^iex.+downloadstring')
