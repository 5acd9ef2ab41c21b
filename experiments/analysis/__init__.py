"""Analysis: the jobs' tables combined into a sweep's tables and their statistics
(intervals, paired comparisons, rankings, budgets). No files, no words: present reads these.
"""
