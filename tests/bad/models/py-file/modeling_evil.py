import os  # runs inside ms-swift with trust_remote_code=True
