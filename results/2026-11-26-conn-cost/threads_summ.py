import json,glob,statistics as st
rows={}
for f in sorted(glob.glob('raw/threadstack-*.json')):
    _,app,stack,rep=f.split('/')[-1][:-5].split('-')
    d=json.load(open(f))['report']; s=d['server']; m=s['memory']
    n=m['conns']
    rows.setdefault((app,int(stack)),[]).append((n, m['user_rss_per_conn_bytes'], m['page_tables_per_conn_bytes'], m['kernel_stack_per_conn_bytes'], m['slab_both_ends_per_conn_bytes'], s['threads_start']-s['threads_baseline']))
def fmt(v):
    v=sorted(v); return f"{st.median(v):.0f} [{v[0]:.0f}–{v[-1]:.0f}]"
print("| app | --stack-size | conns | new threads | user RSS | page tables | kernel stacks | slab, both ends |")
print("|---|---|---|---|---:|---:|---:|---:|")
for (app,stack),r in sorted(rows.items()):
    print(f"| {app} | {stack//1024} KiB | {r[0][0]} | {r[0][5]} | "+" | ".join(fmt([x[i] for x in r]) for i in [1,2,3,4])+" |")
