// The OpenAPI 3.1 description of the REST API v1, served at GET /api/v1/openapi.json.
// It follows the API contract (docs: README.md); Tests/e2e/test_openapi.py validates it and walks every route
// of it against the real daemon.

/// The OpenAPI document as literal JSON, so serving it needs no encoder and costs nothing per request.
enum OpenAPIDocument {
    static let json: String = #"""
        {
          "openapi": "3.1.0",
          "info": {
            "title": "fibd",
            "version": "1",
            "summary": "Fibonacci tasks on a pool of worker processes.",
            "description": "JSON in and out. Every error is application/problem+json (RFC 9457) with type urn:fibd:problem:<slug>. Any path not listed here is 404 not-found; a listed path with another method is 405 method-not-allowed with an Allow header (components/responses/MethodNotAllowed); HEAD works wherever GET does. The HTTP layer may answer any request with 400 bad-request, 408 request-timeout or 431 headers-too-large and close the connection. Times are RFC 3339 UTC with milliseconds; durations are seconds. Access: fibd listens on loopback unless told otherwise; with --token-file it asks for a bearer token (components/securitySchemes/bearerToken) and answers 401 unauthorized without it.",
            "license": {
              "name": "MIT",
              "identifier": "MIT"
            }
          },
          "servers": [
            {
              "url": "/"
            }
          ],
          "paths": {
            "/api/v1/tasks": {
              "post": {
                "operationId": "submitTasks",
                "summary": "Submit one task or a batch",
                "description": "The body is one task object or an array of 1..--max-batch of them. A body without Content-Type, or with application/json, any +json type or application/x-www-form-urlencoded (curl -d's default) is read as JSON; any other type is 415. Unknown members are 422.",
                "parameters": [
                  {
                    "$ref": "#/components/parameters/Wait"
                  }
                ],
                "requestBody": {
                  "required": true,
                  "content": {
                    "application/json": {
                      "schema": {
                        "oneOf": [
                          {
                            "$ref": "#/components/schemas/TaskSubmission"
                          },
                          {
                            "$ref": "#/components/schemas/TaskBatch"
                          }
                        ]
                      },
                      "examples": {
                        "one": {
                          "value": {
                            "n": 1000
                          }
                        },
                        "batch": {
                          "value": [
                            {
                              "n": 10
                            },
                            {
                              "n": 40,
                              "algorithm": "recursive",
                              "priority": 5
                            }
                          ]
                        }
                      }
                    }
                  }
                },
                "responses": {
                  "200": {
                    "description": "wait was given and the task (every task of the batch) ended in time.",
                    "content": {
                      "application/json": {
                        "schema": {
                          "oneOf": [
                            {
                              "$ref": "#/components/schemas/Task"
                            },
                            {
                              "$ref": "#/components/schemas/BatchResponse"
                            }
                          ]
                        }
                      }
                    },
                    "links": {
                      "GetTask": {
                        "operationId": "getTask",
                        "parameters": {
                          "id": "$response.body#/id"
                        },
                        "description": "The task just submitted (single submit)."
                      },
                      "CancelTask": {
                        "operationId": "cancelTask",
                        "parameters": {
                          "id": "$response.body#/id"
                        },
                        "description": "Cancel the task just submitted (single submit)."
                      }
                    }
                  },
                  "202": {
                    "description": "Accepted: the task object (single; Location names it) or the tasks (batch), in their current state.",
                    "headers": {
                      "Location": {
                        "description": "/api/v1/tasks/{id} of the task created (single submit only).",
                        "schema": {
                          "type": "string"
                        }
                      }
                    },
                    "content": {
                      "application/json": {
                        "schema": {
                          "oneOf": [
                            {
                              "$ref": "#/components/schemas/Task"
                            },
                            {
                              "$ref": "#/components/schemas/BatchResponse"
                            }
                          ]
                        }
                      }
                    },
                    "links": {
                      "GetTask": {
                        "operationId": "getTask",
                        "parameters": {
                          "id": "$response.body#/id"
                        },
                        "description": "The task just submitted (single submit)."
                      },
                      "CancelTask": {
                        "operationId": "cancelTask",
                        "parameters": {
                          "id": "$response.body#/id"
                        },
                        "description": "Cancel the task just submitted (single submit)."
                      }
                    }
                  },
                  "400": {
                    "description": "The body is not JSON, or not an object or array; or a bad wait value. Problem types: urn:fibd:problem:malformed-json, urn:fibd:problem:invalid-parameter.",
                    "content": {
                      "application/problem+json": {
                        "schema": {
                          "$ref": "#/components/schemas/Problem"
                        }
                      }
                    }
                  },
                  "413": {
                    "description": "The body is over --max-body (default 1 MiB). Problem types: urn:fibd:problem:body-too-large.",
                    "content": {
                      "application/problem+json": {
                        "schema": {
                          "$ref": "#/components/schemas/Problem"
                        }
                      }
                    }
                  },
                  "415": {
                    "description": "The Content-Type is not JSON. Problem types: urn:fibd:problem:unsupported-media-type.",
                    "content": {
                      "application/problem+json": {
                        "schema": {
                          "$ref": "#/components/schemas/Problem"
                        }
                      }
                    }
                  },
                  "422": {
                    "description": "A task is invalid (detail names the member, e.g. \"[3].algorithm must be one of fast, recursive\"), or the batch is empty or over --max-batch. Problem types: urn:fibd:problem:invalid-task, urn:fibd:problem:batch-too-large.",
                    "content": {
                      "application/problem+json": {
                        "schema": {
                          "$ref": "#/components/schemas/Problem"
                        }
                      }
                    }
                  },
                  "503": {
                    "$ref": "#/components/responses/QueueFull"
                  }
                }
              },
              "get": {
                "operationId": "listTasks",
                "summary": "List tasks, oldest submission first",
                "parameters": [
                  {
                    "name": "state",
                    "in": "query",
                    "required": false,
                    "style": "form",
                    "explode": false,
                    "description": "Comma-separated states to keep, e.g. queued,running.",
                    "schema": {
                      "type": "array",
                      "minItems": 1,
                      "items": {
                        "$ref": "#/components/schemas/TaskState"
                      }
                    }
                  },
                  {
                    "name": "limit",
                    "in": "query",
                    "required": false,
                    "schema": {
                      "type": "integer",
                      "minimum": 1,
                      "maximum": 1000,
                      "default": 100
                    }
                  },
                  {
                    "name": "cursor",
                    "in": "query",
                    "required": false,
                    "description": "next_cursor of the previous page (16 hex digits); empty or absent for the first page. Anything else is 400 invalid-parameter.",
                    "schema": {
                      "type": "string",
                      "pattern": "^([0-9a-fA-F]{16})?$"
                    }
                  }
                ],
                "responses": {
                  "200": {
                    "description": "A page of tasks (without result).",
                    "content": {
                      "application/json": {
                        "schema": {
                          "$ref": "#/components/schemas/TaskList"
                        }
                      }
                    }
                  },
                  "400": {
                    "$ref": "#/components/responses/InvalidParameter"
                  }
                }
              }
            },
            "/api/v1/tasks/{id}": {
              "parameters": [
                {
                  "$ref": "#/components/parameters/TaskId"
                }
              ],
              "get": {
                "operationId": "getTask",
                "summary": "The task; with wait, long-poll until it ends",
                "parameters": [
                  {
                    "$ref": "#/components/parameters/Wait"
                  }
                ],
                "responses": {
                  "200": {
                    "description": "The task, ended or not (also when the wait elapsed).",
                    "content": {
                      "application/json": {
                        "schema": {
                          "$ref": "#/components/schemas/Task"
                        }
                      }
                    }
                  },
                  "400": {
                    "$ref": "#/components/responses/InvalidParameter"
                  },
                  "404": {
                    "$ref": "#/components/responses/TaskNotFound"
                  }
                }
              },
              "delete": {
                "operationId": "cancelTask",
                "summary": "Cancel the task",
                "description": "A running task's worker is SIGKILLed and respawned, unless another live task shares the computation.",
                "responses": {
                  "200": {
                    "description": "The task, now (or already) cancelled.",
                    "content": {
                      "application/json": {
                        "schema": {
                          "$ref": "#/components/schemas/Task"
                        }
                      }
                    }
                  },
                  "404": {
                    "$ref": "#/components/responses/TaskNotFound"
                  },
                  "409": {
                    "description": "The task already ended otherwise (done, failed, timed_out). Problem types: urn:fibd:problem:task-ended.",
                    "content": {
                      "application/problem+json": {
                        "schema": {
                          "$ref": "#/components/schemas/Problem"
                        }
                      }
                    }
                  }
                }
              }
            },
            "/api/v1/events": {
              "get": {
                "operationId": "getEvents",
                "summary": "The event log after a cursor; long-polls with wait",
                "description": "Without after: no past events, next is the current head. With wait, an empty answer is held until an event arrives or the wait elapses. Pass next as the next after.",
                "parameters": [
                  {
                    "name": "after",
                    "in": "query",
                    "required": false,
                    "schema": {
                      "type": "integer",
                      "minimum": 0
                    }
                  },
                  {
                    "$ref": "#/components/parameters/Wait"
                  },
                  {
                    "name": "limit",
                    "in": "query",
                    "required": false,
                    "schema": {
                      "type": "integer",
                      "minimum": 1,
                      "maximum": 10000,
                      "default": 1000
                    }
                  }
                ],
                "responses": {
                  "200": {
                    "description": "Events with seq > after, oldest first, at most limit.",
                    "content": {
                      "application/json": {
                        "schema": {
                          "$ref": "#/components/schemas/EventsResponse"
                        }
                      }
                    }
                  },
                  "400": {
                    "$ref": "#/components/responses/InvalidParameter"
                  },
                  "410": {
                    "description": "after is older than the oldest kept event; the problem's next member is the head to resync from. Problem types: urn:fibd:problem:cursor-expired.",
                    "content": {
                      "application/problem+json": {
                        "schema": {
                          "$ref": "#/components/schemas/Problem"
                        }
                      }
                    }
                  }
                }
              }
            },
            "/api/v1/workers": {
              "get": {
                "operationId": "listWorkers",
                "summary": "The worker pool",
                "responses": {
                  "200": {
                    "description": "Every worker slot.",
                    "content": {
                      "application/json": {
                        "schema": {
                          "$ref": "#/components/schemas/WorkerList"
                        }
                      }
                    }
                  }
                }
              }
            },
            "/api/v1/status": {
              "get": {
                "operationId": "getStatus",
                "summary": "Counts, throughput, uptime, version, limits",
                "responses": {
                  "200": {
                    "description": "The daemon as a whole.",
                    "content": {
                      "application/json": {
                        "schema": {
                          "$ref": "#/components/schemas/Status"
                        }
                      }
                    }
                  }
                }
              }
            },
            "/api/v1/fib/{n}": {
              "get": {
                "operationId": "computeFibonacci",
                "summary": "Compute F(n) in one request",
                "description": "Goes through the queue, dedupe and cache, and answers when done. If the client disconnects first, its task is cancelled.",
                "parameters": [
                  {
                    "name": "n",
                    "in": "path",
                    "required": true,
                    "description": "A non-negative integer; otherwise 422 invalid-task.",
                    "schema": {
                      "type": "integer",
                      "minimum": 0,
                      "maximum": 10000000
                    }
                  },
                  {
                    "name": "algorithm",
                    "in": "query",
                    "required": false,
                    "schema": {
                      "allOf": [
                        {
                          "$ref": "#/components/schemas/Algorithm"
                        }
                      ],
                      "default": "fast"
                    }
                  },
                  {
                    "name": "timeout",
                    "in": "query",
                    "required": false,
                    "description": "Seconds (default --default-timeout); at most --max-timeout (default 3600).",
                    "schema": {
                      "type": "number",
                      "exclusiveMinimum": 0,
                      "maximum": 3600
                    }
                  },
                  {
                    "name": "shared",
                    "in": "query",
                    "required": false,
                    "description": "false: computed on its own, as a task submitted with shared: false; otherwise 422 invalid-task.",
                    "schema": {
                      "type": "boolean",
                      "default": true
                    }
                  }
                ],
                "responses": {
                  "200": {
                    "description": "F(n): JSON by default, or with Accept: text/plain the digits and a newline.",
                    "content": {
                      "application/json": {
                        "schema": {
                          "$ref": "#/components/schemas/FibResult"
                        }
                      },
                      "text/plain": {
                        "schema": {
                          "type": "string",
                          "pattern": "^[0-9]+\\n$"
                        }
                      }
                    }
                  },
                  "400": {
                    "$ref": "#/components/responses/InvalidParameter"
                  },
                  "422": {
                    "description": "n, algorithm or shared is invalid (same messages as submit), or the task failed or timed out. Problem types: urn:fibd:problem:invalid-task, urn:fibd:problem:task-failed, urn:fibd:problem:task-timed-out.",
                    "content": {
                      "application/problem+json": {
                        "schema": {
                          "$ref": "#/components/schemas/Problem"
                        }
                      }
                    }
                  },
                  "503": {
                    "$ref": "#/components/responses/QueueFull"
                  }
                }
              }
            },
            "/api/v1/openapi.json": {
              "get": {
                "operationId": "getOpenAPIDocument",
                "summary": "This OpenAPI 3.1 document",
                "responses": {
                  "200": {
                    "description": "The document.",
                    "content": {
                      "application/json": {
                        "schema": {
                          "type": "object"
                        }
                      }
                    }
                  }
                }
              }
            },
            "/healthz": {
              "get": {
                "operationId": "getHealth",
                "summary": "Liveness",
                "responses": {
                  "200": {
                    "description": "The daemon is alive.",
                    "content": {
                      "application/json": {
                        "schema": {
                          "$ref": "#/components/schemas/Health"
                        }
                      }
                    }
                  }
                }
              }
            },
            "/readyz": {
              "get": {
                "operationId": "getReadiness",
                "summary": "Readiness",
                "responses": {
                  "200": {
                    "description": "Ready: every worker has answered.",
                    "content": {
                      "application/json": {
                        "schema": {
                          "$ref": "#/components/schemas/Readiness"
                        }
                      }
                    }
                  },
                  "503": {
                    "description": "Starting or draining.",
                    "content": {
                      "application/json": {
                        "schema": {
                          "$ref": "#/components/schemas/Readiness"
                        }
                      }
                    }
                  }
                }
              }
            },
            "/metrics": {
              "get": {
                "operationId": "getMetrics",
                "summary": "Prometheus text format",
                "description": "Series: fibd_tasks{state}, fibd_tasks_submitted_total, fibd_queue_depth, fibd_task_duration_seconds (histogram), fibd_workers{state}, fibd_worker_restarts_total, fibd_http_requests_total{code}, fibd_cache_hits_total, fibd_cache_bytes.",
                "responses": {
                  "200": {
                    "description": "The metrics.",
                    "content": {
                      "text/plain; version=0.0.4": {
                        "schema": {
                          "type": "string"
                        }
                      }
                    }
                  }
                }
              }
            },
            "/api/v1/samples": {
              "get": {
                "operationId": "getSamples",
                "summary": "The daemon and its workers over time, for the status pages; long-polls with wait",
                "description": "Samples are taken at most once a second and only while someone asks (one sample serves every reader); the daemon keeps the last 300. Without after: the newest limit samples. With after and wait, an empty answer is held until the next sample. A cursor past the head (another run) reads as none.",
                "parameters": [
                  {
                    "name": "after",
                    "in": "query",
                    "required": false,
                    "description": "The next of an earlier reply; without it, the newest limit samples.",
                    "schema": {
                      "type": "integer",
                      "minimum": 0
                    }
                  },
                  {
                    "$ref": "#/components/parameters/Wait"
                  },
                  {
                    "name": "limit",
                    "in": "query",
                    "required": false,
                    "schema": {
                      "type": "integer",
                      "minimum": 1,
                      "maximum": 300,
                      "default": 60
                    }
                  }
                ],
                "responses": {
                  "200": {
                    "description": "Samples with seq > after, oldest first, at most limit.",
                    "content": {
                      "application/json": {
                        "schema": {
                          "$ref": "#/components/schemas/SamplesResponse"
                        }
                      }
                    }
                  },
                  "400": {
                    "$ref": "#/components/responses/InvalidParameter"
                  }
                }
              }
            },
            "/api/v1/groups": {
              "get": {
                "operationId": "getGroups",
                "summary": "Tasks per group (algorithm and decade of n) and where their time went",
                "description": "A group is named algorithm/1eD for 10^D <= n < 10^(D+1), e.g. fast/1e4. Counts are kept as events happen; cached bytes are counted when asked.",
                "responses": {
                  "200": {
                    "description": "Every group that has seen a task or holds a cached result, by name.",
                    "content": {
                      "application/json": {
                        "schema": {
                          "$ref": "#/components/schemas/GroupList"
                        }
                      }
                    }
                  }
                }
              }
            }
          },
          "components": {
            "schemas": {
              "Algorithm": {
                "type": "string",
                "enum": [
                  "fast",
                  "recursive"
                ],
                "description": "fast: exact big-integer algorithm for any n up to --max-n. recursive: the exponential recursion (a CPU load), n <= 93."
              },
              "TaskState": {
                "type": "string",
                "enum": [
                  "queued",
                  "running",
                  "done",
                  "failed",
                  "cancelled",
                  "timed_out"
                ]
              },
              "TaskSubmission": {
                "type": "object",
                "description": "One task to run. Identical tasks (same n and algorithm) queued or running at once share one computation, and a task whose result is cached is answered from the cache, unless the task is submitted with shared: false.",
                "required": [
                  "n"
                ],
                "additionalProperties": false,
                "properties": {
                  "n": {
                    "type": "integer",
                    "minimum": 0,
                    "maximum": 10000000,
                    "description": "Index of the Fibonacci number; at most --max-n (default 10000000), at most 93 for recursive."
                  },
                  "algorithm": {
                    "anyOf": [
                      {
                        "$ref": "#/components/schemas/Algorithm"
                      },
                      {
                        "type": "null"
                      }
                    ],
                    "default": "fast",
                    "description": "null or absent: fast."
                  },
                  "priority": {
                    "type": [
                      "integer",
                      "null"
                    ],
                    "minimum": -1000,
                    "maximum": 1000,
                    "default": 0,
                    "description": "Higher runs first; null or absent: 0."
                  },
                  "timeout": {
                    "type": [
                      "number",
                      "null"
                    ],
                    "exclusiveMinimum": 0,
                    "maximum": 3600,
                    "description": "Seconds the computation may run; null or absent: --default-timeout. At most --max-timeout (default 3600)."
                  },
                  "shared": {
                    "type": [
                      "boolean",
                      "null"
                    ],
                    "default": true,
                    "description": "false: the task gets a computation of its own (like Dask's pure=False): it joins no identical queued or running task, none joins it, and it is never answered from the result cache (its result still fills the cache for later shared tasks). null or absent: true."
                  }
                },
                "if": {
                  "properties": {
                    "algorithm": {
                      "const": "recursive"
                    }
                  },
                  "required": [
                    "algorithm"
                  ]
                },
                "then": {
                  "properties": {
                    "n": {
                      "maximum": 93
                    }
                  }
                }
              },
              "TaskBatch": {
                "type": "array",
                "minItems": 1,
                "maxItems": 1000,
                "items": {
                  "$ref": "#/components/schemas/TaskSubmission"
                },
                "description": "1 to --max-batch (default 1000) tasks, submitted all or nothing."
              },
              "Task": {
                "type": "object",
                "required": [
                  "id",
                  "n",
                  "algorithm",
                  "priority",
                  "timeout",
                  "state",
                  "attempts",
                  "submitted_at",
                  "started_at",
                  "finished_at",
                  "duration",
                  "worker",
                  "cached",
                  "shared"
                ],
                "properties": {
                  "id": {
                    "type": "string",
                    "minLength": 1
                  },
                  "n": {
                    "type": "integer",
                    "minimum": 0
                  },
                  "algorithm": {
                    "$ref": "#/components/schemas/Algorithm"
                  },
                  "priority": {
                    "type": "integer",
                    "minimum": -1000,
                    "maximum": 1000
                  },
                  "timeout": {
                    "type": "number",
                    "exclusiveMinimum": 0
                  },
                  "state": {
                    "$ref": "#/components/schemas/TaskState"
                  },
                  "attempts": {
                    "type": "integer",
                    "minimum": 0
                  },
                  "submitted_at": {
                    "type": "string",
                    "format": "date-time",
                    "description": "RFC 3339 UTC with milliseconds, e.g. 2026-11-24T22:47:38.123Z."
                  },
                  "started_at": {
                    "format": "date-time",
                    "description": "RFC 3339 UTC with milliseconds, e.g. 2026-11-24T22:47:38.123Z.",
                    "type": [
                      "string",
                      "null"
                    ]
                  },
                  "finished_at": {
                    "format": "date-time",
                    "description": "RFC 3339 UTC with milliseconds, e.g. 2026-11-24T22:47:38.123Z.",
                    "type": [
                      "string",
                      "null"
                    ]
                  },
                  "duration": {
                    "type": [
                      "number",
                      "null"
                    ],
                    "minimum": 0,
                    "description": "Seconds from started_at to finished_at."
                  },
                  "worker": {
                    "type": [
                      "integer",
                      "null"
                    ],
                    "description": "Pid of the worker running it (or that ran it)."
                  },
                  "cached": {
                    "type": "boolean",
                    "description": "True when answered from the result cache without computing."
                  },
                  "shared": {
                    "type": "boolean",
                    "description": "False when submitted with shared: false: computed on its own, never coalesced with identical tasks nor answered from the cache."
                  },
                  "digits": {
                    "type": "integer",
                    "minimum": 1,
                    "description": "Present once done."
                  },
                  "result": {
                    "type": "string",
                    "pattern": "^[0-9]+$",
                    "description": "Present once done (omitted in lists): the exact decimal digits."
                  },
                  "error": {
                    "type": "string",
                    "description": "Present once failed, timed_out or cancelled: a sentence saying why."
                  }
                }
              },
              "BatchResponse": {
                "type": "object",
                "required": [
                  "tasks"
                ],
                "properties": {
                  "tasks": {
                    "type": "array",
                    "items": {
                      "$ref": "#/components/schemas/Task"
                    },
                    "description": "In the order submitted."
                  }
                }
              },
              "TaskList": {
                "type": "object",
                "required": [
                  "tasks",
                  "next_cursor"
                ],
                "properties": {
                  "tasks": {
                    "type": "array",
                    "items": {
                      "$ref": "#/components/schemas/Task"
                    },
                    "description": "Oldest submission first; items omit result."
                  },
                  "next_cursor": {
                    "type": [
                      "string",
                      "null"
                    ],
                    "description": "Pass as cursor for the next page; null on the last page."
                  }
                }
              },
              "Event": {
                "type": "object",
                "required": [
                  "seq",
                  "time",
                  "type"
                ],
                "properties": {
                  "seq": {
                    "type": "integer",
                    "minimum": 1
                  },
                  "time": {
                    "type": "string",
                    "format": "date-time",
                    "description": "RFC 3339 UTC with milliseconds, e.g. 2026-11-24T22:47:38.123Z."
                  },
                  "type": {
                    "type": "string",
                    "enum": [
                      "task.submitted",
                      "task.started",
                      "task.done",
                      "task.failed",
                      "task.cancelled",
                      "task.timed_out",
                      "task.requeued",
                      "worker.ready",
                      "worker.exited"
                    ]
                  },
                  "task": {
                    "type": "string"
                  },
                  "n": {
                    "type": "integer",
                    "minimum": 0
                  },
                  "algorithm": {
                    "$ref": "#/components/schemas/Algorithm"
                  },
                  "worker": {
                    "type": "integer",
                    "description": "Worker pid."
                  },
                  "attempt": {
                    "type": "integer",
                    "minimum": 0,
                    "description": "0 when answered from the cache."
                  },
                  "duration": {
                    "type": "number",
                    "minimum": 0
                  },
                  "digits": {
                    "type": "integer",
                    "minimum": 1
                  },
                  "result": {
                    "type": "string",
                    "pattern": "^[0-9]+$",
                    "description": "task.done only, only when digits <= 1000."
                  },
                  "error": {
                    "type": "string"
                  },
                  "cached": {
                    "type": "boolean"
                  }
                }
              },
              "EventsResponse": {
                "type": "object",
                "required": [
                  "events",
                  "next",
                  "oldest"
                ],
                "properties": {
                  "events": {
                    "type": "array",
                    "items": {
                      "$ref": "#/components/schemas/Event"
                    },
                    "description": "Events with seq > after, oldest first."
                  },
                  "next": {
                    "type": "integer",
                    "minimum": 0,
                    "description": "Pass as after next time."
                  },
                  "oldest": {
                    "type": "integer",
                    "minimum": 0,
                    "description": "Seq of the oldest event kept."
                  }
                }
              },
              "Worker": {
                "type": "object",
                "required": [
                  "id",
                  "pid",
                  "state",
                  "task",
                  "n",
                  "cpu_seconds",
                  "rss_bytes",
                  "done",
                  "failed",
                  "restarts",
                  "started_at"
                ],
                "properties": {
                  "id": {
                    "type": "integer",
                    "minimum": 0
                  },
                  "pid": {
                    "type": [
                      "integer",
                      "null"
                    ]
                  },
                  "state": {
                    "type": "string",
                    "enum": [
                      "starting",
                      "idle",
                      "busy",
                      "restarting"
                    ]
                  },
                  "task": {
                    "type": [
                      "string",
                      "null"
                    ]
                  },
                  "n": {
                    "type": [
                      "integer",
                      "null"
                    ],
                    "minimum": 0
                  },
                  "cpu_seconds": {
                    "type": "number",
                    "minimum": 0
                  },
                  "rss_bytes": {
                    "type": "integer",
                    "minimum": 0
                  },
                  "done": {
                    "type": "integer",
                    "minimum": 0
                  },
                  "failed": {
                    "type": "integer",
                    "minimum": 0
                  },
                  "restarts": {
                    "type": "integer",
                    "minimum": 0
                  },
                  "started_at": {
                    "format": "date-time",
                    "description": "RFC 3339 UTC with milliseconds, e.g. 2026-11-24T22:47:38.123Z.",
                    "type": [
                      "string",
                      "null"
                    ]
                  },
                  "bytes_received": {
                    "type": "integer",
                    "minimum": 0,
                    "description": "Bytes read from the worker so far."
                  }
                }
              },
              "WorkerList": {
                "type": "object",
                "required": [
                  "workers"
                ],
                "properties": {
                  "workers": {
                    "type": "array",
                    "items": {
                      "$ref": "#/components/schemas/Worker"
                    }
                  }
                }
              },
              "Status": {
                "type": "object",
                "required": [
                  "version",
                  "started_at",
                  "uptime_seconds",
                  "workers",
                  "tasks",
                  "throughput",
                  "cache",
                  "limits",
                  "events"
                ],
                "properties": {
                  "version": {
                    "type": "string"
                  },
                  "started_at": {
                    "type": "string",
                    "format": "date-time",
                    "description": "RFC 3339 UTC with milliseconds, e.g. 2026-11-24T22:47:38.123Z."
                  },
                  "uptime_seconds": {
                    "type": "number",
                    "minimum": 0
                  },
                  "ready": {
                    "type": "boolean",
                    "description": "Every worker has answered and the daemon is not draining."
                  },
                  "draining": {
                    "type": "boolean"
                  },
                  "long_polls": {
                    "type": "integer",
                    "minimum": 0,
                    "description": "Long-polls being held."
                  },
                  "workers": {
                    "type": "object",
                    "required": [
                      "total",
                      "idle",
                      "busy",
                      "starting"
                    ],
                    "properties": {
                      "total": {
                        "type": "integer",
                        "minimum": 0
                      },
                      "idle": {
                        "type": "integer",
                        "minimum": 0
                      },
                      "busy": {
                        "type": "integer",
                        "minimum": 0
                      },
                      "starting": {
                        "type": "integer",
                        "minimum": 0
                      }
                    }
                  },
                  "tasks": {
                    "type": "object",
                    "required": [
                      "queued",
                      "running",
                      "done",
                      "failed",
                      "cancelled",
                      "timed_out",
                      "submitted",
                      "deduplicated"
                    ],
                    "properties": {
                      "queued": {
                        "type": "integer",
                        "minimum": 0
                      },
                      "running": {
                        "type": "integer",
                        "minimum": 0
                      },
                      "done": {
                        "type": "integer",
                        "minimum": 0
                      },
                      "failed": {
                        "type": "integer",
                        "minimum": 0
                      },
                      "cancelled": {
                        "type": "integer",
                        "minimum": 0
                      },
                      "timed_out": {
                        "type": "integer",
                        "minimum": 0
                      },
                      "submitted": {
                        "type": "integer",
                        "minimum": 0
                      },
                      "deduplicated": {
                        "type": "integer",
                        "minimum": 0
                      },
                      "requeued": {
                        "type": "integer",
                        "minimum": 0
                      }
                    }
                  },
                  "throughput": {
                    "type": "object",
                    "required": [
                      "done_last_minute"
                    ],
                    "properties": {
                      "done_last_minute": {
                        "type": "integer",
                        "minimum": 0
                      }
                    }
                  },
                  "cache": {
                    "type": "object",
                    "required": [
                      "entries",
                      "bytes",
                      "max_bytes",
                      "hits",
                      "misses"
                    ],
                    "properties": {
                      "entries": {
                        "type": "integer",
                        "minimum": 0
                      },
                      "bytes": {
                        "type": "integer",
                        "minimum": 0
                      },
                      "max_bytes": {
                        "type": "integer",
                        "minimum": 0
                      },
                      "hits": {
                        "type": "integer",
                        "minimum": 0
                      },
                      "misses": {
                        "type": "integer",
                        "minimum": 0
                      }
                    }
                  },
                  "limits": {
                    "type": "object",
                    "required": [
                      "max_n",
                      "max_queue",
                      "max_batch",
                      "max_body",
                      "default_timeout",
                      "max_timeout",
                      "max_wait",
                      "max_attempts"
                    ],
                    "properties": {
                      "max_n": {
                        "type": "integer",
                        "minimum": 0
                      },
                      "max_queue": {
                        "type": "integer",
                        "minimum": 0
                      },
                      "max_batch": {
                        "type": "integer",
                        "minimum": 1
                      },
                      "max_body": {
                        "type": "integer",
                        "minimum": 1,
                        "description": "Bytes."
                      },
                      "default_timeout": {
                        "type": "number",
                        "exclusiveMinimum": 0,
                        "description": "Seconds."
                      },
                      "max_timeout": {
                        "type": "number",
                        "exclusiveMinimum": 0,
                        "description": "Seconds."
                      },
                      "max_wait": {
                        "type": "number",
                        "minimum": 0,
                        "description": "Seconds."
                      },
                      "max_attempts": {
                        "type": "integer",
                        "minimum": 1
                      }
                    }
                  },
                  "events": {
                    "type": "object",
                    "required": [
                      "head",
                      "oldest"
                    ],
                    "properties": {
                      "head": {
                        "type": "integer",
                        "minimum": 0
                      },
                      "oldest": {
                        "type": "integer",
                        "minimum": 0
                      }
                    }
                  }
                }
              },
              "FibResult": {
                "type": "object",
                "required": [
                  "n",
                  "algorithm",
                  "digits",
                  "result"
                ],
                "properties": {
                  "n": {
                    "type": "integer",
                    "minimum": 0
                  },
                  "algorithm": {
                    "$ref": "#/components/schemas/Algorithm"
                  },
                  "digits": {
                    "type": "integer",
                    "minimum": 1
                  },
                  "result": {
                    "type": "string",
                    "pattern": "^[0-9]+$"
                  }
                }
              },
              "Health": {
                "type": "object",
                "required": [
                  "status"
                ],
                "properties": {
                  "status": {
                    "type": "string",
                    "const": "ok"
                  }
                }
              },
              "Readiness": {
                "type": "object",
                "required": [
                  "status"
                ],
                "properties": {
                  "status": {
                    "type": "string",
                    "enum": [
                      "ready",
                      "starting",
                      "draining"
                    ]
                  }
                }
              },
              "Problem": {
                "type": "object",
                "description": "RFC 9457 problem details; type is urn:fibd:problem:<slug>.",
                "required": [
                  "type",
                  "title",
                  "status",
                  "detail"
                ],
                "properties": {
                  "type": {
                    "type": "string",
                    "pattern": "^urn:fibd:problem:[a-z][a-z-]*$",
                    "examples": [
                      "urn:fibd:problem:invalid-task"
                    ]
                  },
                  "title": {
                    "type": "string"
                  },
                  "status": {
                    "type": "integer",
                    "minimum": 400,
                    "maximum": 599
                  },
                  "detail": {
                    "type": "string"
                  },
                  "next": {
                    "type": "integer",
                    "minimum": 0,
                    "description": "cursor-expired only: the current head, to resync."
                  }
                },
                "additionalProperties": true
              },
              "Sample": {
                "type": "object",
                "required": [
                  "seq",
                  "time",
                  "daemon",
                  "workers"
                ],
                "properties": {
                  "seq": {
                    "type": "integer",
                    "minimum": 0,
                    "description": "Numbered from 1 in each run."
                  },
                  "time": {
                    "type": "string",
                    "format": "date-time",
                    "description": "RFC 3339 UTC with milliseconds."
                  },
                  "daemon": {
                    "type": "object",
                    "required": [
                      "cpu_seconds",
                      "rss_bytes",
                      "open_fds",
                      "connections",
                      "long_polls",
                      "loop_lag_seconds"
                    ],
                    "properties": {
                      "cpu_seconds": {
                        "type": "number",
                        "minimum": 0,
                        "description": "CPU time of the daemon process (user + system) since it started."
                      },
                      "rss_bytes": {
                        "type": "integer",
                        "minimum": 0,
                        "description": "Resident memory of the daemon process."
                      },
                      "open_fds": {
                        "type": "integer",
                        "minimum": 0,
                        "description": "Open file descriptors of the daemon process."
                      },
                      "connections": {
                        "type": "integer",
                        "minimum": 0,
                        "description": "Open HTTP connections."
                      },
                      "long_polls": {
                        "type": "integer",
                        "minimum": 0,
                        "description": "Requests held waiting (task and event long-polls)."
                      },
                      "loop_lag_seconds": {
                        "type": "number",
                        "minimum": 0,
                        "description": "How late the scheduler's event loop ran the sampling job."
                      }
                    }
                  },
                  "workers": {
                    "type": "array",
                    "items": {
                      "$ref": "#/components/schemas/Worker"
                    }
                  }
                }
              },
              "SamplesResponse": {
                "type": "object",
                "required": [
                  "samples",
                  "next"
                ],
                "properties": {
                  "samples": {
                    "type": "array",
                    "items": {
                      "$ref": "#/components/schemas/Sample"
                    }
                  },
                  "next": {
                    "type": "integer",
                    "minimum": 0,
                    "description": "The seq of the newest sample: pass it as the next after."
                  }
                }
              },
              "Group": {
                "type": "object",
                "required": [
                  "name",
                  "queued",
                  "running",
                  "done",
                  "failed",
                  "cancelled",
                  "timed_out",
                  "computations",
                  "seconds",
                  "cached_results",
                  "cached_bytes"
                ],
                "properties": {
                  "name": {
                    "type": "string",
                    "description": "algorithm/1eD, e.g. fast/1e4."
                  },
                  "queued": {
                    "type": "integer",
                    "minimum": 0,
                    "description": "Tasks queued now."
                  },
                  "running": {
                    "type": "integer",
                    "minimum": 0,
                    "description": "Tasks running now."
                  },
                  "done": {
                    "type": "integer",
                    "minimum": 0,
                    "description": "Tasks done."
                  },
                  "failed": {
                    "type": "integer",
                    "minimum": 0,
                    "description": "Tasks failed."
                  },
                  "cancelled": {
                    "type": "integer",
                    "minimum": 0,
                    "description": "Tasks cancelled."
                  },
                  "timed_out": {
                    "type": "integer",
                    "minimum": 0,
                    "description": "Tasks timed out."
                  },
                  "computations": {
                    "type": "integer",
                    "minimum": 0,
                    "description": "Computations workers finished (tasks sharing one count once)."
                  },
                  "seconds": {
                    "type": "object",
                    "required": [
                      "queued",
                      "computing",
                      "encoding",
                      "sending"
                    ],
                    "properties": {
                      "queued": {
                        "type": "number",
                        "minimum": 0,
                        "description": "Time tasks waited for a worker, summed."
                      },
                      "computing": {
                        "type": "number",
                        "minimum": 0,
                        "description": "Time workers spent computing F(n), summed."
                      },
                      "encoding": {
                        "type": "number",
                        "minimum": 0,
                        "description": "Time workers spent writing F(n) in decimal, summed."
                      },
                      "sending": {
                        "type": "number",
                        "minimum": 0,
                        "description": "The rest of each computation's time from its start to its answer here: the digits' trip back and the dispatch."
                      }
                    }
                  },
                  "cached_results": {
                    "type": "integer",
                    "minimum": 0,
                    "description": "Results of the group in the result cache."
                  },
                  "cached_bytes": {
                    "type": "integer",
                    "minimum": 0,
                    "description": "Bytes of those results."
                  }
                }
              },
              "GroupList": {
                "type": "object",
                "required": [
                  "groups"
                ],
                "properties": {
                  "groups": {
                    "type": "array",
                    "items": {
                      "$ref": "#/components/schemas/Group"
                    }
                  }
                }
              }
            },
            "responses": {
              "InvalidParameter": {
                "description": "A query parameter is malformed or out of range. Problem types: urn:fibd:problem:invalid-parameter.",
                "content": {
                  "application/problem+json": {
                    "schema": {
                      "$ref": "#/components/schemas/Problem"
                    }
                  }
                }
              },
              "TaskNotFound": {
                "description": "No such task: it never existed or was forgotten after retention. Problem types: urn:fibd:problem:task-not-found.",
                "content": {
                  "application/problem+json": {
                    "schema": {
                      "$ref": "#/components/schemas/Problem"
                    }
                  }
                }
              },
              "QueueFull": {
                "description": "The queue is full (a batch is accepted all or nothing), or the daemon is draining. Problem types: urn:fibd:problem:queue-full, urn:fibd:problem:shutting-down.",
                "content": {
                  "application/problem+json": {
                    "schema": {
                      "$ref": "#/components/schemas/Problem"
                    }
                  }
                },
                "headers": {
                  "Retry-After": {
                    "description": "Seconds to wait before trying again.",
                    "required": true,
                    "schema": {
                      "type": "integer",
                      "minimum": 0
                    }
                  }
                }
              },
              "NotFound": {
                "description": "Unknown path. Problem types: urn:fibd:problem:not-found.",
                "content": {
                  "application/problem+json": {
                    "schema": {
                      "$ref": "#/components/schemas/Problem"
                    }
                  }
                }
              },
              "MethodNotAllowed": {
                "description": "Known path, other method. Problem types: urn:fibd:problem:method-not-allowed.",
                "content": {
                  "application/problem+json": {
                    "schema": {
                      "$ref": "#/components/schemas/Problem"
                    }
                  }
                },
                "headers": {
                  "Allow": {
                    "description": "The methods the path accepts, e.g. GET, HEAD, POST.",
                    "required": true,
                    "schema": {
                      "type": "string"
                    }
                  }
                }
              },
              "BadRequest": {
                "description": "Malformed HTTP; the connection is closed. Problem types: urn:fibd:problem:bad-request.",
                "content": {
                  "application/problem+json": {
                    "schema": {
                      "$ref": "#/components/schemas/Problem"
                    }
                  }
                }
              },
              "RequestTimeout": {
                "description": "Request headers not complete within --header-timeout; the connection is closed. Problem types: urn:fibd:problem:request-timeout.",
                "content": {
                  "application/problem+json": {
                    "schema": {
                      "$ref": "#/components/schemas/Problem"
                    }
                  }
                }
              },
              "HeadersTooLarge": {
                "description": "The header block is over 16 KiB. Problem types: urn:fibd:problem:headers-too-large.",
                "content": {
                  "application/problem+json": {
                    "schema": {
                      "$ref": "#/components/schemas/Problem"
                    }
                  }
                }
              },
              "Unauthorized": {
                "description": "The operation needs the bearer token (see securitySchemes) and it was missing or wrong: problem unauthorized.",
                "headers": {
                  "WWW-Authenticate": {
                    "description": "Bearer realm=\"fibd\", with error=\"invalid_token\" when a token was sent but is wrong.",
                    "schema": {
                      "type": "string"
                    }
                  }
                },
                "content": {
                  "application/problem+json": {
                    "schema": {
                      "$ref": "#/components/schemas/Problem"
                    }
                  }
                }
              }
            },
            "parameters": {
              "Wait": {
                "name": "wait",
                "in": "query",
                "required": false,
                "description": "How long to wait for the task(s) to end: seconds (30, 0.5) or with a unit (30s, 500ms, 2m); clamped to --max-wait (default 60 s). A bad value is 400 invalid-parameter.",
                "schema": {
                  "type": "string",
                  "pattern": "^[0-9]+(\\.[0-9]+)?(ms|s|m)?$",
                  "examples": [
                    "30",
                    "0.5",
                    "30s",
                    "500ms",
                    "2m"
                  ]
                }
              },
              "TaskId": {
                "name": "id",
                "in": "path",
                "required": true,
                "schema": {
                  "type": "string",
                  "minLength": 1
                }
              }
            },
            "securitySchemes": {
              "bearerToken": {
                "type": "http",
                "scheme": "bearer",
                "description": "Only when fibd is started with --token-file FILE (or the systemd credential fibd-token): send 'Authorization: Bearer <the file's content>'. With --token-scope mutating (the default) it guards every method but GET and HEAD; with --token-scope all it guards every request except GET /healthz and GET /readyz. A missing or wrong token is 401 unauthorized with WWW-Authenticate: Bearer realm=\"fibd\". The document served by a daemon with a token lists the operations it guards (security)."
              }
            }
          }
        }
        """#
}
