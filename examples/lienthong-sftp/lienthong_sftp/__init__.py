"""lienthong-sftp: deliver packages into a receiving system's SFTP folder."""
