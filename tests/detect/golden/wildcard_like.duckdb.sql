LOWER("Image") LIKE 'c:\\windows\\%?md\_\%.exe' ESCAPE '\'
