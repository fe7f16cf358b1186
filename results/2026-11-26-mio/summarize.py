#!/usr/bin/env python3
"""Summarises a measure.sh output directory: medians, ranges and per-repeat ratios. Usage: summarize.py DIR"""
import json, glob, statistics, sys
d = sys.argv[1]
def med(xs): return statistics.median(xs)
print("echo closed loop, 100 conns x 64 B, 10 s")
for s in ['mio','tokio','textbook-mio','textbook-tokio']:
    rows=[]
    for f in sorted(glob.glob(f'{d}/echo-{s}-*.json')):
        r=json.load(open(f))['report']; sv=r['server']
        n=r['messages']
        rows.append((sv['cpu_us_per_msg'], sv['user_s']/n*1e6, sv['system_s']/n*1e6, r['msgs_per_s'], sum(v for v in r['errors'].values())))
    if not rows: continue
    c=[x[0] for x in rows]; u=[x[1] for x in rows]; k=[x[2] for x in rows]; t=[x[3] for x in rows]
    print(f"{s:16} n={len(rows)} cpu-us/msg median {med(c):.2f} range {min(c):.2f}-{max(c):.2f} | user {med(u):.2f} sys {med(k):.2f} | msg/s median {med(t):.0f} range {min(t):.0f}-{max(t):.0f} | errors {sum(x[4] for x in rows)} | runs {[round(x,2) for x in c]}")
# per-repeat ratio
reps=sorted({f.split('-')[-1].split('.')[0] for f in glob.glob(f'{d}/echo-mio-*.json')})
for other in ['tokio','textbook-mio']:
    ratios=[]
    for r in reps:
        try:
            a=json.load(open(f'{d}/echo-mio-{r}.json'))['report']['server']['cpu_us_per_msg']
            b=json.load(open(f'{d}/echo-{other}-{r}.json'))['report']['server']['cpu_us_per_msg']
            ratios.append(a/b)
        except FileNotFoundError: pass
    if ratios: print(f"mio / {other} per repeat: median {med(ratios):.2f} range {min(ratios):.2f}-{max(ratios):.2f} {[round(x,2) for x in ratios]}")
print("idle connections (loadgen conns)")
for s in ['mio','tokio','textbook-mio']:
    rows=[]
    for f in sorted(glob.glob(f'{d}/conns-{s}-*.json')):
        r=json.load(open(f))['report']; sv=r['server']
        rows.append((sv['rss_per_conn_bytes'], r.get('connect',{}).get('established'), sv['rss_baseline_bytes'], sv['rss_peak_bytes']))
    if not rows: continue
    b=[x[0] for x in rows]
    print(f"{s:16} n={len(rows)} RSS/conn median {med(b):.0f} B range {min(b):.0f}-{max(b):.0f}; established {[x[1] for x in rows]}; baseline/peak KiB {[(x[2]//1024, x[3]//1024) for x in rows]}")
