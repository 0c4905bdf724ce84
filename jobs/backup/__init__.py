"""Backups, restore and the destruction procedure (备份、恢复、销毁): see :mod:`jobs.backup.backup`."""
