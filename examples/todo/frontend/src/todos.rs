//! The TODO list.

use leptos::prelude::*;
use serde::{Deserialize, Serialize};

use crate::api::Api;

#[derive(Debug, Clone, Deserialize, Serialize, PartialEq)]
struct Todo {
    id: i64,
    title: String,
    done: bool,
}

/// The list and a form to add to it, loaded from the API when shown.
#[component]
pub fn Todos() -> impl IntoView {
    let api = StoredValue::new(expect_context::<Api>());
    let todos = RwSignal::new(Vec::<Todo>::new());
    let error = RwSignal::new(None::<String>);
    let title = RwSignal::new(String::new());

    leptos::task::spawn_local(async move {
        match api.get_value().call("GET", "/api/todos", None).await {
            Ok(text) => match serde_json::from_str::<Vec<Todo>>(&text) {
                Ok(list) => todos.set(list),
                Err(e) => error.set(Some(e.to_string())),
            },
            Err(e) => error.set(Some(e)),
        }
    });

    let add = move || {
        let text = title.get_untracked();
        if text.trim().is_empty() {
            return;
        }
        let body = serde_json::json!({ "title": text }).to_string();
        leptos::task::spawn_local(async move {
            match api.get_value().call("POST", "/api/todos", Some(body)).await {
                Ok(text) => match serde_json::from_str::<Todo>(&text) {
                    Ok(todo) => {
                        todos.update(|t| t.push(todo));
                        title.set(String::new());
                        error.set(None);
                    }
                    Err(e) => error.set(Some(e.to_string())),
                },
                Err(e) => error.set(Some(e)),
            }
        });
    };

    view! {
        <section class="todos">
            <h1>"Your TODO list"</h1>
            <form on:submit=move |ev| {
                ev.prevent_default();
                add();
            }>
                <input
                    data-testid="todo-input"
                    placeholder="What needs doing?"
                    aria-label="New TODO"
                    prop:value=move || title.get()
                    on:input=move |ev| title.set(event_target_value(&ev))
                />
                <button data-testid="todo-add" type="submit">
                    "Add"
                </button>
            </form>
            <Show when=move || error.get().is_some()>
                <p class="error" data-testid="api-error">
                    {move || error.get().unwrap_or_default()}
                </p>
            </Show>
            <ul class="todo-list">
                <For each=move || todos.get() key=|t| t.id let:todo>
                    <li data-testid="todo-item">{todo.title}</li>
                </For>
            </ul>
        </section>
    }
}
