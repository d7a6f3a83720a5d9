"""An offline AWS for rehearsals and tests: moto for ECS/ELBv2/CloudWatch/ECR/IAM/STS/EC2,
plus bluegreen's own CodeDeploy engine, behind one loopback endpoint."""
