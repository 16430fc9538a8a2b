package schemas

// This file holds the signatures other packages build against while their
// implementations are written. Each owner moves its functions to their own
// files (filter_parse.go, eval.go, path.go, patch.go, registry.go, decode.go,
// attributes.go, sort.go) and deletes them from here.

// ---- owner: filter/path/PATCH ----
