lowerUTF8("TargetUserName") = lowerUTF8("SubjectUserName") AND POSITION(lowerUTF8("CommandLine"), lowerUTF8("Image")) > 0
