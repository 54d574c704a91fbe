ENDS_WITH(LOWER("Image"), '.exe') AND NOT COALESCE(CONTAINS(LOWER("CommandLine"), 'whoami') OR LOWER("User") = 'system', FALSE)
