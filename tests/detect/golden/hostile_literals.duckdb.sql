LOWER("CommandLine") IN ('''; drop table ev_x; --', '" or "" = "', 'a
b	c', 'ασ i ß 😀', '\server\share\', '$$ /* */ `x`')
