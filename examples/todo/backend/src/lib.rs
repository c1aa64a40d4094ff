//! The example TODO API: per-user TODOs in SQLite behind oidc-leptos's validator.

use std::sync::{Arc, Mutex};

use axum::extract::{FromRef, Path, State};
use axum::http::StatusCode;
use axum::response::{IntoResponse, Response};
use axum::routing::{any, delete, get};
use axum::{Json, Router};
use oidc_leptos::server::{Auth, Validator};
use rusqlite::{params, Connection};
use serde::{Deserialize, Serialize};

/// Shared state: the validator and the database.
#[derive(Clone)]
pub struct AppState {
    /// Access-token validator.
    pub validator: Validator,
    /// The SQLite connection.
    pub db: Arc<Mutex<Connection>>,
}

impl FromRef<AppState> for Validator {
    fn from_ref(state: &AppState) -> Self {
        state.validator.clone()
    }
}

/// A TODO item.
#[derive(Debug, Clone, Serialize, Deserialize, PartialEq, Eq)]
pub struct Todo {
    /// Row id.
    pub id: i64,
    /// What to do.
    pub title: String,
    /// Whether it is done.
    pub done: bool,
}

/// Body of `POST /api/todos`.
#[derive(Debug, Deserialize)]
pub struct NewTodo {
    title: String,
}

/// Body of `PATCH /api/todos/{id}`.
#[derive(Debug, Deserialize)]
pub struct UpdateTodo {
    title: Option<String>,
    done: Option<bool>,
}

/// An API error as JSON.
#[derive(Debug)]
pub struct ApiError(StatusCode, String);

impl IntoResponse for ApiError {
    fn into_response(self) -> Response {
        (self.0, Json(serde_json::json!({"error": self.1}))).into_response()
    }
}

fn db_error(e: impl std::fmt::Display) -> ApiError {
    tracing::error!(error = %e, "database error");
    ApiError(StatusCode::INTERNAL_SERVER_ERROR, "database error".into())
}

/// Opens (and migrates) the database. `url` is a path, `sqlite://path` or `:memory:`.
pub fn open_database(url: &str) -> rusqlite::Result<Connection> {
    let path = url.strip_prefix("sqlite://").unwrap_or(url);
    let conn = Connection::open(path)?;
    conn.execute_batch(
        "PRAGMA journal_mode = WAL;
         CREATE TABLE IF NOT EXISTS todos (
             id INTEGER PRIMARY KEY AUTOINCREMENT,
             owner TEXT NOT NULL,
             title TEXT NOT NULL,
             done INTEGER NOT NULL DEFAULT 0
         );
         CREATE INDEX IF NOT EXISTS todos_owner ON todos(owner);",
    )?;
    Ok(conn)
}

/// Runs a database closure off the async runtime.
async fn with_db<T: Send + 'static>(
    state: &AppState,
    f: impl FnOnce(&Connection) -> rusqlite::Result<T> + Send + 'static,
) -> Result<T, ApiError> {
    let db = Arc::clone(&state.db);
    tokio::task::spawn_blocking(move || {
        let conn = db.lock().map_err(|_| db_error("poisoned lock"))?;
        f(&conn).map_err(db_error)
    })
    .await
    .map_err(db_error)?
}

fn check_title(title: &str) -> Result<String, ApiError> {
    let title = title.trim();
    if title.is_empty() || title.chars().count() > 200 {
        return Err(ApiError(
            StatusCode::UNPROCESSABLE_ENTITY,
            "title must be 1 to 200 characters".into(),
        ));
    }
    Ok(title.to_owned())
}

async fn me(Auth(claims): Auth<serde_json::Value>) -> Json<serde_json::Value> {
    Json(serde_json::to_value(&claims).unwrap_or_default())
}

async fn list(
    State(state): State<AppState>,
    Auth(claims): Auth,
) -> Result<Json<Vec<Todo>>, ApiError> {
    let owner = claims.sub;
    let todos = with_db(&state, move |db| {
        let mut stmt =
            db.prepare("SELECT id, title, done FROM todos WHERE owner = ?1 ORDER BY id")?;
        let rows = stmt.query_map(params![owner], |r| {
            Ok(Todo {
                id: r.get(0)?,
                title: r.get(1)?,
                done: r.get(2)?,
            })
        })?;
        rows.collect()
    })
    .await?;
    Ok(Json(todos))
}

async fn create(
    State(state): State<AppState>,
    Auth(claims): Auth,
    Json(new): Json<NewTodo>,
) -> Result<(StatusCode, Json<Todo>), ApiError> {
    let title = check_title(&new.title)?;
    let owner = claims.sub;
    let todo = with_db(&state, move |db| {
        db.execute(
            "INSERT INTO todos (owner, title) VALUES (?1, ?2)",
            params![owner, title],
        )?;
        Ok(Todo {
            id: db.last_insert_rowid(),
            title,
            done: false,
        })
    })
    .await?;
    Ok((StatusCode::CREATED, Json(todo)))
}

async fn update(
    State(state): State<AppState>,
    Auth(claims): Auth,
    Path(id): Path<i64>,
    Json(change): Json<UpdateTodo>,
) -> Result<Json<Todo>, ApiError> {
    let title = change.title.as_deref().map(check_title).transpose()?;
    let owner = claims.sub;
    let todo = with_db(&state, move |db| {
        db.execute(
            "UPDATE todos SET title = COALESCE(?1, title), done = COALESCE(?2, done)
             WHERE id = ?3 AND owner = ?4",
            params![title, change.done, id, owner],
        )?;
        let mut stmt =
            db.prepare("SELECT id, title, done FROM todos WHERE id = ?1 AND owner = ?2")?;
        let mut rows = stmt.query_map(params![id, owner], |r| {
            Ok(Todo {
                id: r.get(0)?,
                title: r.get(1)?,
                done: r.get(2)?,
            })
        })?;
        rows.next().transpose()
    })
    .await?;
    todo.map(Json)
        .ok_or_else(|| ApiError(StatusCode::NOT_FOUND, "no such todo".into()))
}

async fn remove(
    State(state): State<AppState>,
    Auth(claims): Auth,
    Path(id): Path<i64>,
) -> Result<StatusCode, ApiError> {
    let owner = claims.sub;
    let n = with_db(&state, move |db| {
        db.execute(
            "DELETE FROM todos WHERE id = ?1 AND owner = ?2",
            params![id, owner],
        )
    })
    .await?;
    if n == 0 {
        return Err(ApiError(StatusCode::NOT_FOUND, "no such todo".into()));
    }
    Ok(StatusCode::NO_CONTENT)
}

/// The API routes, under `/api`.
pub fn api(state: AppState) -> Router {
    Router::new()
        .route("/api/me", get(me))
        .route("/api/todos", get(list).post(create))
        .route("/api/todos/{id}", delete(remove).patch(update))
        .with_state(state)
}

/// `app` with the built front end in `dir` for every path it does not answer: the file
/// when there is one, else `index.html`, so that the app's own routes (`/todos`,
/// `/profile`) load it. Unknown paths under `/api/` answer 404, not the page.
pub fn with_front_end(app: Router, dir: &str) -> Router {
    let index = format!("{dir}/index.html");
    app.route("/api/{*rest}", any(|| async { StatusCode::NOT_FOUND }))
        .fallback_service(
            tower_http::services::ServeDir::new(dir)
                .fallback(tower_http::services::ServeFile::new(index)),
        )
}
