endsWith(lowerUTF8("Image"), '.exe') AND NOT COALESCE(POSITION(lowerUTF8("CommandLine"), 'whoami') > 0 OR lowerUTF8("User") = 'system', FALSE)
