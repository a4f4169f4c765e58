package bridge

import "github.com/go-chi/chi/v5"

// Routes lists the endpoints the server serves (the OpenAPI test walks them).
func (s *Server) Routes() chi.Routes { return s.router }
