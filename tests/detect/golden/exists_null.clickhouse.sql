NOT ("CommandLine" IS NULL) AND ("ParentCommandLine" IS NULL AND "User" IS NULL)
