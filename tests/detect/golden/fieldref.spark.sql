LOWER(`TargetUserName`) = LOWER(`SubjectUserName`) AND CONTAINS(LOWER(`CommandLine`), LOWER(`Image`))
