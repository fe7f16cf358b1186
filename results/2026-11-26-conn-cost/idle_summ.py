import json,glob,statistics as st,sys
d0=sys.argv[1] if len(sys.argv)>1 else 'raw'
rows={}
for f in sorted(glob.glob(d0+'/idle-*.json')):
    _,app,*imp,rep=f.split('/')[-1][:-5].split('-')
    imp='-'.join(imp)
    d=json.load(open(f))['report']; m=d['server']['memory']
    rows.setdefault((app,imp),[]).append(m)
def fmt(v):
    v=sorted(v); return f"{st.median(v):.0f} [{v[0]:.0f}–{v[-1]:.0f}]"
print("| app | variant | runs | user RSS | page tables | kernel stacks | slab, both ends | TCP buffers, both ends | server kernel (est.) |")
print("|---|---|---|---:|---:|---:|---:|---:|---:|")
k=lambda m: m['page_tables_per_conn_bytes']+m['kernel_stack_per_conn_bytes']+(m['slab_both_ends_per_conn_bytes']+m['tcp_buffers_both_ends_per_conn_bytes'])/2
for app in ['echo','chat']:
  for imp in ['threads','tokio','async-std','smol','mio','uring']:
    ms=rows.get((app,imp),[])
    if not ms: continue
    print(f"| {app} | {imp} | {len(ms)} | "+" | ".join(fmt([m[x] for m in ms]) for x in ['user_rss_per_conn_bytes','page_tables_per_conn_bytes','kernel_stack_per_conn_bytes','slab_both_ends_per_conn_bytes','tcp_buffers_both_ends_per_conn_bytes'])+f" | {fmt([k(m) for m in ms])} |")
