POSITION(lowerUTF8("CommandLine"), '0% d_x\\''q') > 0
