# A model folder that ships code: ms-swift would run it with trust_remote_code=True.
RAN = True
