"""The service network: outlets, technicians, their skills, shifts and leave."""
