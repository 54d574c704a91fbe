STARTSWITH(`DestinationIp`, '10.') OR (`DestinationIp` IN ('192.168.1.0', '192.168.1.1', '192.168.1.2', '192.168.1.3') OR STARTSWITH(LOWER(`DestinationIp`), '2001:db8:'))
