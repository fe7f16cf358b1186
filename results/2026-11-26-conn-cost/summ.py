import json,glob,statistics as st,collections
def fmt(v):
    v=sorted(v); return f"{st.median(v):.2f} [{v[0]:.2f}–{v[-1]:.2f}] n={len(v)}"
print("### CPU per message, main vs this branch (server µs/msg)")
rows=collections.defaultdict(list)
for f in glob.glob('raw/cpu-*.json'):
    n=f.split('/')[-1][:-5].split('-')  # cpu app imp... build rep
    app=n[1]; rep=n[-1]; build=n[-2]; imp='-'.join(n[2:-2])
    d=json.load(open(f))['report']
    s=d.get('server') or {}
    rate=d.get('msgs_per_s') or d.get('deliveries_per_s') or 0
    rows[(app,imp,build)].append((s.get('cpu_us_per_msg',0), rate))
print("| app | variant | main µs/msg | branch µs/msg | main msgs/s | branch msgs/s |")
print("|---|---|---|---|---|---|")
for app in ['echo','chat']:
  for imp in ['threads','tokio','async-std','smol','mio','uring']:
    o=rows.get((app,imp,'old')); n=rows.get((app,imp,'new'))
    if not o or not n: continue
    print(f"| {app} | {imp} | {fmt([x[0] for x in o])} | {fmt([x[0] for x in n])} | {st.median([x[1] for x in o]):.0f} | {st.median([x[1] for x in n]):.0f} |")
print()
print("### Churn")
rows=collections.defaultdict(list)
for f in glob.glob('raw/churn-*.json'):
    n=f.split('/')[-1][:-5].split('-')
    app=n[1]; rate=n[2]; rep=n[-1]; imp='-'.join(n[3:-1])
    d=json.load(open(f))['report']
    cpu=d.get('server_cpu_s') or 0
    per_core = d['completed']/cpu if cpu>0 else 0
    rows[(app,rate,imp)].append((per_core, cpu*1e6/max(d['completed'],1), d['connect']['latency']['summary']['p50_us'], d['round_trip']['summary']['p50_us'], d['round_trip']['summary']['p99_us'], d['completed'], d['connect']['requested'], d['errors']+sum(v for k,v in d['connect']['failures'].items() if isinstance(v,int))))
print("| app | offered/s | variant | new conns/s per server core | server µs/conn | connect p50 µs | round trip p50 µs | round trip p99 µs | completed/offered | errors |")
print("|---|---|---|---|---|---|---|---|---|---|")
for app in ['echo','chat']:
  for rate in ['1000','4000']:
    for imp in ['threads','tokio','async-std','smol','mio','uring']:
      r=rows.get((app,rate,imp))
      if not r: continue
      med=lambda i: st.median([x[i] for x in r])
      rng=lambda i: f"{min(x[i] for x in r):.0f}–{max(x[i] for x in r):.0f}"
      print(f"| {app} | {rate} | {imp} | {med(0):.0f} [{rng(0)}] | {med(1):.0f} [{rng(1)}] | {med(2):.0f} | {med(3):.0f} | {med(4):.0f} [{rng(4)}] | {sum(x[5] for x in r)}/{sum(x[6] for x in r)} | {sum(x[7] for x in r)} |")
