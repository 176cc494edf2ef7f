"""scikit-learn's IsolationForest on ADBench's exact splits, repeated with 10 sets of random states:
how far the 3-seed mean AUROC moves with the forest's seed alone (reports/adbench.md).

    /tmp/venv/bin/python scripts/adbench_sklearn_spread.py [../shared/datasets/real]
"""
import numpy as np, pandas as pd, sys
from sklearn.ensemble import IsolationForest
from sklearn.metrics import roc_auc_score
root=sys.argv[1] if len(sys.argv)>1 else '../shared/datasets/real'
sp=pd.read_csv(f'{root}/reference/adbench_protocol_splits.csv')
for name,f in [('cardio','adbench_cardio'),('thyroid','adbench_thyroid'),('SpamBase','adbench_spambase'),('mammography','adbench_mammography'),('cover','adbench_cover')]:
    d=pd.read_csv(f'{root}/{f}/{f}.csv'); y=d.pop('label').values; X=d.values
    reps=[]
    for r in range(10):
        aucs=[]
        for s in (1,2,3):
            q=sp[(sp.dataset==f)&(sp.seed==s)]
            tr=q[q.part=='train'].sort_values('position').row_id.values; te=q[q.part=='test'].sort_values('position').row_id.values
            lo=X[tr].min(0); hi=X[tr].max(0); rg=np.where(hi-lo==0,1,hi-lo)
            m=IsolationForest(random_state=s+1000*r).fit((X[tr]-lo)/rg)
            aucs.append(roc_auc_score(y[te], -m.score_samples((X[te]-lo)/rg)))
        reps.append(100*np.mean(aucs))
    print(name, 'r0=%.2f'%reps[0], 'mean=%.2f sd=%.2f min=%.2f max=%.2f'%(np.mean(reps),np.std(reps,ddof=1),min(reps),max(reps)))
