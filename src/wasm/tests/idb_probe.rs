//! Temporary probe: raw IndexedDB read cost by record size.

use js_sys::{Array, Uint8Array};
use wasm_bindgen::prelude::*;
use wasm_bindgen_futures::JsFuture;
use wasm_bindgen_test::wasm_bindgen_test;
use web_sys::{IdbDatabase, IdbRequest};

use crate::wasm::idb::{Database, Write};

#[wasm_bindgen]
extern "C" {
    #[wasm_bindgen(js_namespace = performance, js_name = now)]
    fn performance_now() -> f64;
    #[wasm_bindgen(js_namespace = console, js_name = log)]
    fn console_log(line: &str);
}

async fn done(req: &IdbRequest) -> JsValue {
    let req2 = req.clone();
    let p = js_sys::Promise::new(
        &mut |resolve: js_sys::Function, _reject: js_sys::Function| {
            let r = req2.clone();
            let ok = Closure::once_into_js(move || {
                let _ = resolve.call1(&JsValue::NULL, &r.result().unwrap());
            });
            req2.set_onsuccess(Some(ok.unchecked_ref()));
        },
    );
    JsFuture::from(p).await.unwrap()
}

async fn raw_open(name: &str) -> IdbDatabase {
    let f: web_sys::IdbFactory = js_sys::Reflect::get(&js_sys::global(), &"indexedDB".into())
        .unwrap()
        .unchecked_into();
    let req = f.open(name).unwrap();
    done(&req).await.unchecked_into()
}

fn noise(size: usize, seed: u64) -> Vec<u8> {
    let mut x = seed.wrapping_mul(0x9E3779B97F4A7C15) | 1;
    (0..size)
        .map(|_| {
            x ^= x << 13;
            x ^= x >> 7;
            x ^= x << 17;
            x as u8
        })
        .collect()
}

#[wasm_bindgen_test]
#[ignore = "probe"]
async fn probe_rewrite_cost_by_record_size() {
    for size in [128usize, 16 << 10, 60 << 10, 70 << 10, 128 << 10, 256 << 10] {
        let name = format!("probe-w-{size}");
        let _ = Database::delete(&name).await;
        let db = Database::open(&name).await.unwrap();
        let rounds = 100;
        let t0 = performance_now();
        for i in 0..rounds {
            db.commit(vec![Write::PutSegment {
                stream: "R".into(),
                start: 1,
                bytes: noise(size, i),
            }])
            .await
            .unwrap();
        }
        let t1 = performance_now();
        console_log(&format!(
            "rewrite {size:>8} B: {:.2} ms per strict commit",
            (t1 - t0) / rounds as f64
        ));
        db.close();
        let _ = Database::delete(&name).await;
    }
}

#[wasm_bindgen_test]
#[ignore = "probe"]
async fn probe_read_cost_by_record_size() {
    const TOTAL: usize = 16 << 20;
    for size in [
        16usize << 10,
        60 << 10,
        70 << 10,
        128 << 10,
        256 << 10,
        1 << 20,
    ] {
        let name = format!("probe-{size}");
        let _ = Database::delete(&name).await;
        let db = Database::open(&name).await.unwrap();
        let n = TOTAL / size;
        let mut writes = Vec::new();
        for i in 0..n {
            writes.push(Write::PutSegment {
                stream: "R".into(),
                start: i as u64,
                bytes: noise(size, i as u64),
            });
            if writes.len() * size >= 4 << 20 {
                db.commit(std::mem::take(&mut writes)).await.unwrap();
            }
        }
        db.commit(writes).await.unwrap();
        db.close();
        for round in 0..3 {
            let t0 = performance_now();
            let raw = raw_open(&name).await;
            let tx = raw.transaction_with_str("segments").unwrap();
            let store = tx.object_store("segments").unwrap();
            let t1 = performance_now();
            let values = Array::from(&done(&store.get_all().unwrap()).await);
            let t2 = performance_now();
            let keys = Array::from(&done(&store.get_all_keys().unwrap()).await);
            let t3 = performance_now();
            let mut total = 0;
            for v in values.iter() {
                total += Uint8Array::new(&v).to_vec().len();
            }
            let t4 = performance_now();
            raw.close();
            console_log(&format!("{size:>8} B x {n:>5} (round {round}): open {:.1} getAll {:.1} getAllKeys {:.1} ({}) copy {:.1} ms ({total} B)", t1 - t0, t2 - t1, t3 - t2, keys.length(), t4 - t3));
        }
        let _ = Database::delete(&name).await;
    }
}
