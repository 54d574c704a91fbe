"""AWS actions (EC2, IAM)."""
