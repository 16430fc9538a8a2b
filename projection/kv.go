package projection

import (
	"errors"

	"github.com/dgraph-io/badger/v4"
)

// The apply path reads and writes through these interfaces, so that the
// same functions (applyRecord, verdict, putRecord, applyMemberOps, cleanup
// and the rest) apply records to Badger, one transaction at a time, and to
// the bulk engine of a first replay (bulk.go), which writes no Badger
// transaction at all. Every decision about a record is made once, here and
// in the files that call these.

// kvReader reads keys: a Badger transaction, or the bulk engine.
type kvReader interface {
	// get calls fn with the value at key, valid during the call only, and
	// reports whether there is one (fn is not called when there is not).
	get(key []byte, fn func(v []byte) error) (found bool, err error)

	// value is get for a copy: it copies the value at key into dst's
	// storage (dst[:0], grown as needed) and returns it. Unlike get's
	// callback, whose variables escape through the interface, it
	// allocates nothing for a key that is not there.
	value(dst, key []byte) (v []byte, found bool, err error)

	// scan calls fn with each key under prefix, in key order, valid during
	// the call only, until fn returns false or an error.
	scan(prefix []byte, fn func(key []byte) (more bool, err error)) error
}

// kvTxn is a read-write transaction of applying: it reads its own writes,
// and nothing of it is visible to others before commit. discard after
// commit is a no-op.
type kvTxn interface {
	kvReader
	set(key, value []byte) error
	delete(key []byte) error
	commit() error
	discard()
}

// kvDB opens the transactions of applying.
type kvDB interface {
	newTxn() kvTxn
	// view calls fn with a read-only snapshot.
	view(fn func(r kvReader) error) error
}

// badgerReader reads a Badger transaction.
type badgerReader struct{ txn *badger.Txn }

func (r badgerReader) get(key []byte, fn func(v []byte) error) (bool, error) {
	item, err := r.txn.Get(key)
	if errors.Is(err, badger.ErrKeyNotFound) {
		return false, nil
	}
	if err != nil {
		return false, err
	}
	return true, item.Value(fn)
}

func (r badgerReader) value(dst, key []byte) ([]byte, bool, error) {
	item, err := r.txn.Get(key)
	if errors.Is(err, badger.ErrKeyNotFound) {
		return nil, false, nil
	}
	if err != nil {
		return nil, false, err
	}
	v, err := item.ValueCopy(dst)
	return v, err == nil, err
}

func (r badgerReader) scan(prefix []byte, fn func(key []byte) (bool, error)) error {
	it := r.txn.NewIterator(badger.IteratorOptions{Prefix: prefix})
	defer it.Close()
	for it.Seek(prefix); it.ValidForPrefix(prefix); it.Next() {
		more, err := fn(it.Item().Key())
		if err != nil || !more {
			return err
		}
	}
	return nil
}

// badgerTxn is a Badger read-write transaction.
type badgerTxn struct{ badgerReader }

func (t badgerTxn) set(key, value []byte) error { return t.txn.Set(key, value) }
func (t badgerTxn) delete(key []byte) error     { return t.txn.Delete(key) }
func (t badgerTxn) commit() error               { return t.txn.Commit() }
func (t badgerTxn) discard()                    { t.txn.Discard() }

// badgerDB is the Store's Badger as a kvDB.
type badgerDB struct{ db *badger.DB }

func (d badgerDB) newTxn() kvTxn { return badgerTxn{badgerReader{d.db.NewTransaction(true)}} }

func (d badgerDB) view(fn func(r kvReader) error) error {
	return d.db.View(func(txn *badger.Txn) error { return fn(badgerReader{txn}) })
}
