import json, subprocess, sys, os, collections
import numpy as np, pyarrow.parquet as pq
B=os.path.expanduser('~/.cache/poisonscan-target/release/poisonscan')
files={'adult':('/work/main/datasets/real/adult.parquet',[]),'acs':('/work/main/datasets/real/acs_ma_2015.parquet',['--exclude','year'])}
seeds=range(int(sys.argv[1]) if len(sys.argv)>1 else 10)
out=collections.Counter(); worst=[]
for name,(f,extra) in files.items():
    t=pq.read_table(f)
    for s in seeds:
        m=np.random.default_rng(100+s).random(t.num_rows)<0.5
        d=f'/tmp/halves/{name}'; os.makedirs(d,exist_ok=True)
        pq.write_table(t.filter(m), f'{d}/a.parquet'); pq.write_table(t.filter(~m), f'{d}/b.parquet')
        r=json.loads(subprocess.run([B,'scan',f'{d}/a.parquet','--baseline',f'{d}/b.parquet','--label','label','--fail-on','never','--format','json','--quiet']+extra,capture_output=True,text=True).stdout)
        for x in r['findings']:
            if x['code']=='OUT001':
                out[(name,x['severity'])]+=1
                if x['severity'] in ('high','medium'): worst.append((name,s,x['severity'],x['title']))
print(dict(out)); print(*worst[:10],sep='\n')
