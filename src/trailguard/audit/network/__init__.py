"""Security-group and network-ACL analysis for Alibaba Cloud and AWS (issue 7)."""
