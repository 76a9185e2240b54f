"""Jobs run on a schedule (`papersift schedule`), now (`papersift run`) or on request (admin API).

registry.py names the jobs; lock.py keeps one run of a job at a time across processes and
machines; runs.py records every attempt in `job_runs`; runner.py retries, records and chains
them; schedule.py fires them on their cron settings.
"""
