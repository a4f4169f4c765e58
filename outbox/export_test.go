package outbox

// Flushes is how many statements wrote delivery outcomes.
func (w *Worker) Flushes() int64 { return w.flushes.Load() }
