//! Blocks a web page keeps across reloads, in the browser's IndexedDB.
//!
//! IndexedDB is asynchronous and [`Blockstore`] is not, so the store is a [`MemoryBlockstore`]
//! loaded from the database when it opens, with every put and remove also written to the
//! database behind it, in order, by a task of the page. [`IndexedDbBlockstore::flush`] waits
//! until the database has every change so far; a page closed before that loses the changes
//! not yet written (a browser gives no stronger promise to a page anyway). The write queue
//! holds at most one entry per change not yet written, each sharing its data with the memory
//! copy.

use std::cell::{Cell, RefCell};
use std::collections::VecDeque;
use std::rc::Rc;

use futures::channel::oneshot;
use js_sys::{Array, Uint8Array};
use send_wrapper::SendWrapper;
use switchboard_exchange::{Block, Blockstore, Cid, MemoryBlockstore, StoreError};
use wasm_bindgen::closure::Closure;
use wasm_bindgen::{JsCast, JsValue};
use web_sys::{IdbDatabase, IdbFactory, IdbRequest, IdbTransaction, IdbTransactionMode};

/// The object store: multihash bytes → block data.
const BLOCKS: &str = "blocks";
/// The raw codec (one varint byte), for verifying stored data by its multihash (the codec
/// plays no part in it).
const RAW: u8 = 0x55;

fn backend(what: &str, e: impl std::fmt::Debug) -> StoreError {
    StoreError::Unavailable(format!("IndexedDB {what}: {e:?}"))
}

/// A change waiting to be written.
enum Change {
    Put(Vec<u8>, bytes::Bytes),
    Remove(Vec<u8>),
}

/// The database and the changes not yet written to it; lives on the page's one thread.
struct Writer {
    db: IdbDatabase,
    queue: RefCell<VecDeque<Change>>,
    running: Cell<bool>,
    flushed: RefCell<Vec<oneshot::Sender<()>>>,
}

/// Blocks in memory, kept in IndexedDB database `name` across page loads.
pub struct IndexedDbBlockstore {
    memory: MemoryBlockstore,
    writer: SendWrapper<Rc<Writer>>,
}

impl std::fmt::Debug for IndexedDbBlockstore {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("IndexedDbBlockstore")
            .field("database", &self.writer.db.name())
            .finish_non_exhaustive()
    }
}

impl IndexedDbBlockstore {
    /// Opens (or creates) database `name` and loads its blocks; a stored block that no longer
    /// matches its multihash is reported, not loaded.
    pub async fn open(name: &str) -> Result<Self, StoreError> {
        let factory: IdbFactory = js_sys::Reflect::get(&js_sys::global(), &"indexedDB".into())
            .ok()
            .and_then(|f| f.dyn_into().ok())
            .ok_or_else(|| StoreError::Unavailable("this page has no IndexedDB".into()))?;
        let open = factory
            .open_with_u32(name, 1)
            .map_err(|e| backend("open", e))?;
        let upgrade = Closure::<dyn FnMut(web_sys::Event)>::new({
            let open = open.clone();
            move |_| {
                if let Ok(db) = open.result().and_then(|r| r.dyn_into::<IdbDatabase>())
                    && !db.object_store_names().contains(BLOCKS)
                {
                    let _ = db.create_object_store(BLOCKS);
                }
            }
        });
        open.set_onupgradeneeded(Some(upgrade.as_ref().unchecked_ref()));
        let db: IdbDatabase = request(&open)
            .await?
            .dyn_into()
            .map_err(|e| backend("open", e))?;
        drop(upgrade);

        let memory = MemoryBlockstore::new();
        let tx = db
            .transaction_with_str(BLOCKS)
            .map_err(|e| backend("read", e))?;
        let store = tx.object_store(BLOCKS).map_err(|e| backend("read", e))?;
        let keys = store.get_all_keys().map_err(|e| backend("read", e))?;
        let values = store.get_all().map_err(|e| backend("read", e))?;
        let (keys, values): (Array, Array) = (
            request(&keys).await?.unchecked_into(),
            request(&values).await?.unchecked_into(),
        );
        for (key, value) in keys.iter().zip(values.iter()) {
            // CIDv1, raw, then the multihash the block is keyed by.
            let mut bytes = vec![0x01, RAW];
            bytes.extend(Uint8Array::new(&key).to_vec());
            let cid = Cid::try_from(bytes.as_slice()).map_err(|e| backend("stored key", e))?;
            let block = Block::verify(cid, Uint8Array::new(&value).to_vec())
                .map_err(|_| StoreError::Corrupt(cid))?;
            memory.put(&block)?;
        }
        Ok(Self {
            memory,
            writer: SendWrapper::new(Rc::new(Writer {
                db,
                queue: RefCell::new(VecDeque::new()),
                running: Cell::new(false),
                flushed: RefCell::new(Vec::new()),
            })),
        })
    }

    /// Waits until IndexedDB holds every change made so far.
    pub async fn flush(&self) {
        let writer: Rc<Writer> = (*self.writer).clone();
        if !writer.running.get() && writer.queue.borrow().is_empty() {
            return;
        }
        let (tx, rx) = oneshot::channel();
        writer.flushed.borrow_mut().push(tx);
        let _ = rx.await;
    }

    fn enqueue(&self, change: Change) {
        let writer: Rc<Writer> = (*self.writer).clone();
        writer.queue.borrow_mut().push_back(change);
        if !writer.running.replace(true) {
            wasm_bindgen_futures::spawn_local(write_all(writer));
        }
    }
}

/// Writes queued changes one transaction at a time until none is left, then wakes flushers.
async fn write_all(writer: Rc<Writer>) {
    loop {
        let Some(change) = writer.queue.borrow_mut().pop_front() else {
            break;
        };
        if let Err(e) = write(&writer.db, change).await {
            tracing::warn!(error = %e, "cannot write a block to IndexedDB");
        }
    }
    writer.running.set(false);
    for flushed in writer.flushed.borrow_mut().drain(..) {
        let _ = flushed.send(());
    }
}

async fn write(db: &IdbDatabase, change: Change) -> Result<(), StoreError> {
    let tx = db
        .transaction_with_str_and_mode(BLOCKS, IdbTransactionMode::Readwrite)
        .map_err(|e| backend("write", e))?;
    let store = tx.object_store(BLOCKS).map_err(|e| backend("write", e))?;
    let done = completion(&tx);
    match change {
        Change::Put(key, data) => {
            let data = Uint8Array::from(data.as_ref());
            store.put_with_key(&data, &Uint8Array::from(key.as_slice()))
        }
        Change::Remove(key) => store.delete(&Uint8Array::from(key.as_slice())),
    }
    .map_err(|e| backend("write", e))?;
    done.await
}

/// The outcome of `req`, once the browser has one.
async fn request(req: &IdbRequest) -> Result<JsValue, StoreError> {
    let (tx, rx) = oneshot::channel();
    let tx = Rc::new(RefCell::new(Some(tx)));
    let on_success = Closure::<dyn FnMut(web_sys::Event)>::new({
        let (tx, req) = (tx.clone(), req.clone());
        move |_| {
            if let Some(tx) = tx.borrow_mut().take() {
                let _ = tx.send(req.result().map_err(|e| backend("request", e)));
            }
        }
    });
    let on_error = Closure::<dyn FnMut(web_sys::Event)>::new({
        let (tx, req) = (tx.clone(), req.clone());
        move |_| {
            if let Some(tx) = tx.borrow_mut().take() {
                let _ = tx.send(Err(backend("request", req.error())));
            }
        }
    });
    req.set_onsuccess(Some(on_success.as_ref().unchecked_ref()));
    req.set_onerror(Some(on_error.as_ref().unchecked_ref()));
    rx.await
        .unwrap_or_else(|_| Err(StoreError::Unavailable("IndexedDB request dropped".into())))
}

/// Resolves when `tx` commits, or fails when it errors or aborts.
fn completion(tx: &IdbTransaction) -> impl std::future::Future<Output = Result<(), StoreError>> {
    let (sender, rx) = oneshot::channel();
    let sender = Rc::new(RefCell::new(Some(sender)));
    let settle = |ok: bool| {
        let sender = sender.clone();
        Closure::<dyn FnMut(web_sys::Event)>::new(move |_| {
            if let Some(sender) = sender.borrow_mut().take() {
                let _ = sender.send(ok);
            }
        })
    };
    let (on_complete, on_error, on_abort) = (settle(true), settle(false), settle(false));
    tx.set_oncomplete(Some(on_complete.as_ref().unchecked_ref()));
    tx.set_onerror(Some(on_error.as_ref().unchecked_ref()));
    tx.set_onabort(Some(on_abort.as_ref().unchecked_ref()));
    async move {
        let committed = rx.await.unwrap_or(false);
        drop((on_complete, on_error, on_abort));
        if committed {
            Ok(())
        } else {
            Err(StoreError::Unavailable(
                "IndexedDB transaction failed".into(),
            ))
        }
    }
}

impl Blockstore for IndexedDbBlockstore {
    fn get(&self, cid: &Cid) -> Result<Option<Block>, StoreError> {
        self.memory.get(cid)
    }

    fn has(&self, cid: &Cid) -> Result<bool, StoreError> {
        self.memory.has(cid)
    }

    fn size(&self, cid: &Cid) -> Result<Option<usize>, StoreError> {
        self.memory.size(cid)
    }

    fn put(&self, block: &Block) -> Result<(), StoreError> {
        self.memory.put(block)?;
        self.enqueue(Change::Put(
            block.cid().hash().to_bytes(),
            block.data().clone(),
        ));
        Ok(())
    }

    fn remove(&self, cid: &Cid) -> Result<bool, StoreError> {
        let removed = self.memory.remove(cid)?;
        if removed {
            self.enqueue(Change::Remove(cid.hash().to_bytes()));
        }
        Ok(removed)
    }
}
