CONTAINS(LOWER("CommandLine"), '0% d_x\''q')
