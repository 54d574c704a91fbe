lowerUTF8("CommandLine") IN ('''; drop table ev_x; --', '" or "" = "', 'a\nb\tc\r', 'ασ i ß 😀', '\\server\\share\\', '$$ /* */ `x`')
