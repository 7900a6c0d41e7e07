use std::time::Instant;
use tracectl_compiler::btf::*;
use tracectl_compiler::tracefs::*;

#[test]
fn scratch() {
    let t = Instant::now();
    let btf = Btf::host().unwrap();
    let t1 = t.elapsed();
    let f = btf.find_func("tcp_connect").unwrap();
    let t2 = t.elapsed();
    let (params, _) = btf.func_signature(f).unwrap();
    let sk = btf.strip(params[0].ty);
    let Type::Ptr { target } = btf.ty(sk) else {
        panic!()
    };
    let sc = btf.find_member(target, "__sk_common").unwrap();
    let d = btf.find_member(sc.ty, "skc_daddr").unwrap();
    let p = btf.find_member(sc.ty, "skc_dport").unwrap();
    let t3 = t.elapsed();
    eprintln!(
        "load {t1:?} find_func {:?} members {:?} total {t3:?}",
        t2 - t1,
        t3 - t2
    );
    eprintln!("{:?} {:?} {}", d, p, btf.display(params[0].ty));
    let root = tracefs_root().unwrap();
    let evs = event_list_from_tracefs(&root);
    let (mut ok, mut missing, mut bad) = (0, 0, 0);
    for e in &evs {
        let (c, n) = e.split_once(':').unwrap();
        let Some(tf) = read_format(&root, c, n) else {
            eprintln!("no tracefs format {e}");
            continue;
        };
        let Some(bf) = format_from_btf(&btf, c, n) else {
            missing += 1;
            continue;
        };
        let key = |f: &TpFormat| {
            f.fields
                .iter()
                .map(|f| {
                    (
                        f.name.clone(),
                        f.offset,
                        f.size,
                        f.data_loc,
                        f.common,
                        f.signed,
                    )
                })
                .collect::<Vec<_>>()
        };
        if key(&tf) == key(&bf) {
            ok += 1
        } else {
            bad += 1;
            if bad < 15 {
                eprintln!("MISMATCH {e}\n {:?}\n {:?}", key(&tf), key(&bf));
            }
        }
    }
    eprintln!("events {} ok {ok} missing {missing} bad {bad}", evs.len());
    eprintln!("btf events {}", event_list_from_btf(&btf).len());
    eprintln!("raw tp names {}", btf.raw_tp_names().len());
}

#[test]
fn scratch_perf() {
    for _ in 0..3 {
        let t = Instant::now();
        let data = std::fs::read("/sys/kernel/btf/vmlinux").unwrap();
        let t1 = t.elapsed();
        let btf = Btf::from_bytes(data.clone()).unwrap();
        let t2 = t.elapsed();
        let names = btf.func_names();
        let t3 = t.elapsed();
        let f = btf.find_func("tcp_connect");
        let t4 = t.elapsed();
        let f2 = btf.find_func("tcp_v4_connect");
        let t5 = t.elapsed();
        eprintln!(
            "read {t1:?} parse {:?} func_names({}) {:?} index+find {:?} find2 {:?} {f:?} {f2:?}",
            t2 - t1,
            names.len(),
            t3 - t2,
            t4 - t3,
            t5 - t4
        );
    }
}

#[test]
fn scratch_perf2() {
    for _ in 0..6 {
        let t = Instant::now();
        let btf = Btf::host().unwrap();
        let t1 = t.elapsed();
        let f = btf.find_func("tcp_connect").unwrap();
        let t2 = t.elapsed();
        let (params, _) = btf.func_signature(f).unwrap();
        let Type::Ptr { target } = btf.ty(btf.strip(params[0].ty)) else {
            panic!()
        };
        let sc = btf.find_member(target, "__sk_common").unwrap();
        let d = btf.find_member(sc.ty, "skc_daddr").unwrap();
        let p = btf.find_member(sc.ty, "skc_dport").unwrap();
        let t3 = t.elapsed();
        eprintln!(
            "host {t1:?} find_func {:?} members {:?} total {t3:?} {}",
            t2 - t1,
            t3 - t2,
            d.bit_offset + p.bit_offset
        );
    }
}

#[test]
fn scratch_perf3() {
    for _ in 0..6 {
        let t = Instant::now();
        let data = std::fs::read("/sys/kernel/btf/vmlinux").unwrap();
        let t1 = t.elapsed();
        let btf = Btf::from_bytes(data).unwrap();
        let t2 = t.elapsed();
        let btf2 = Btf::host().unwrap();
        let t3 = t.elapsed();
        eprintln!(
            "seq read {t1:?} parse {:?} host(parallel) {:?} {}",
            t2 - t1,
            t3 - t2,
            btf.type_count() + btf2.type_count()
        );
    }
}

#[test]
fn scratch_perf4() {
    let t = Instant::now();
    let btf = if std::env::var("SEQ").is_ok() {
        Btf::from_bytes(std::fs::read("/sys/kernel/btf/vmlinux").unwrap()).unwrap()
    } else {
        Btf::host().unwrap()
    };
    let t1 = t.elapsed();
    let f = btf.find_func("tcp_connect").unwrap();
    let t2 = t.elapsed();
    eprintln!(
        "PERF4 seq={} load {t1:?} find {:?} {f}",
        std::env::var("SEQ").is_ok(),
        t2 - t1
    );
}
