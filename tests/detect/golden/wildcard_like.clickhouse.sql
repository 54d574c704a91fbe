lowerUTF8("Image") LIKE 'c:\\\\windows\\\\%?md\\_\\%.exe'
