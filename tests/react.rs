//! ReAct: the agent loop against a scripted LM (tools chosen and called, bad arguments, tool
//! errors, unknown tools, timeouts, max_iters, finish, truncation), `react` steps in program
//! files, and BootstrapFewShot compiling an agent with trajectories as demos.

use std::sync::atomic::{AtomicUsize, Ordering};
use std::sync::Arc;
use std::time::Duration;

use lmc::artifact::ArtifactProvenance;
use lmc::data::dataset::Dataset;
use lmc::metric::ExactMatch;
use lmc::module::tools::{tool_fn, Tool};
use lmc::module::ReAct;
use lmc::optimize::{self, BootstrapFewShot, CompileCx};
use lmc::schemars::JsonSchema;
use lmc::{Example, LmError, LmRequest, Module, Program, RunCx, ScriptedLm, Signature};
use serde::Deserialize;
use serde_json::{json, Value};

/// A react reply choosing `tool` with `args`.
fn act(thought: &str, tool: &str, args: &Value) -> String {
    format!(
        "[[ ## next_thought ## ]]\n{thought}\n\n[[ ## next_tool_name ## ]]\n{tool}\n\n[[ ## next_tool_args ## ]]\n{args}\n\n[[ ## completed ## ]]"
    )
}

/// An extract reply.
fn answer(text: &str) -> String {
    format!("[[ ## reasoning ## ]]\nFrom the trajectory.\n\n[[ ## answer ## ]]\n{text}\n\n[[ ## completed ## ]]")
}

/// Arguments of `lookup`.
#[derive(Deserialize, JsonSchema)]
#[schemars(crate = "lmc::schemars")]
struct LookupArgs {
    /// The city.
    city: String,
}

/// `lookup(city)`: a population table; fails for unknown cities; counts its calls.
fn lookup(calls: Arc<AtomicUsize>) -> Arc<dyn Tool> {
    Arc::new(tool_fn("lookup", "Looks up a city's population.", move |args: LookupArgs| {
        calls.fetch_add(1, Ordering::SeqCst);
        async move {
            match args.city.as_str() {
                "Lisbon" => Ok(545_000),
                "Porto" => Ok(232_000),
                other => Err(format!("no data for {other}")),
            }
        }
    }))
}

fn agent(tools: Vec<Arc<dyn Tool>>) -> ReAct {
    ReAct::new("agent", Signature::parse("question -> answer").unwrap(), tools).unwrap()
}

fn question(q: &str) -> Example {
    Example::new().with("question", q).with_inputs(["question"])
}

fn is_react(request: &LmRequest) -> bool {
    request.messages[0].content.contains("next_tool_name")
}

/// The trajectory input of a request.
fn trajectory_of(request: &LmRequest) -> String {
    let user = request.last_user_message().unwrap();
    let start = user.find("[[ ## trajectory ## ]]\n").unwrap() + "[[ ## trajectory ## ]]\n".len();
    let end = user[start..].find("\n\nRespond with").map_or(user.len(), |e| start + e);
    user[start..end].to_string()
}

async fn run(agent: &ReAct, lm: Arc<ScriptedLm>, q: &str) -> (lmc::Prediction, RunCx) {
    let cx = RunCx::new().with_lm(lm);
    let out = agent.forward(&cx, &question(q)).await.unwrap();
    (out, cx)
}

#[tokio::test]
async fn the_chosen_tool_is_called_and_its_observation_joins_the_trajectory() {
    let calls = Arc::new(AtomicUsize::new(0));
    let agent = agent(vec![lookup(calls.clone())]);
    let lm = Arc::new(
        ScriptedLm::new()
            .with_reply(act("Look it up.", "lookup", &json!({"city": "Lisbon"})))
            .with_reply(act("I know it.", "finish", &json!({})))
            .with_reply(answer("545000")),
    );
    let (out, cx) = run(&agent, lm.clone(), "How many people live in Lisbon?").await;
    assert_eq!(calls.load(Ordering::SeqCst), 1);
    assert_eq!(out.get_as::<String>("answer").unwrap(), "545000");
    assert_eq!(out.get_as::<String>("reasoning").unwrap(), "From the trajectory.");
    assert_eq!(
        out.get("trajectory").unwrap(),
        &json!({
            "thought_0": "Look it up.", "tool_name_0": "lookup", "tool_args_0": {"city": "Lisbon"},
            "observation_0": "545000",
            "thought_1": "I know it.", "tool_name_1": "finish", "tool_args_1": {}, "observation_1": "Completed.",
        })
    );

    let requests = lm.requests();
    assert_eq!(requests.iter().map(is_react).collect::<Vec<_>>(), [true, true, false]);
    assert_eq!(trajectory_of(&requests[0]), "");
    assert_eq!(
        trajectory_of(&requests[1]),
        "[[ ## thought_0 ## ]]\nLook it up.\n\n[[ ## tool_name_0 ## ]]\nlookup\n\n\
         [[ ## tool_args_0 ## ]]\n{\"city\": \"Lisbon\"}\n\n[[ ## observation_0 ## ]]\n545000"
    );
    assert!(trajectory_of(&requests[2]).ends_with("[[ ## observation_1 ## ]]\nCompleted."));

    // The trace names both predictors and carries the trajectory among the inputs.
    let trace = cx.trace();
    let names: Vec<&str> = trace.iter().map(|t| t.predictor.as_str()).collect();
    assert_eq!(names, ["agent.react", "agent.react", "agent.extract"]);
    assert!(trace[1].inputs["trajectory"].as_str().unwrap().contains("observation_0"));
    assert_eq!(cx.totals().calls, 3);
}

#[test]
fn the_react_instructions_are_dspys() {
    let agent = agent(vec![lookup(Arc::default())]);
    let expected = "Given the fields `question`, produce the fields `answer`.\n\n\
You are an Agent. In each episode, you will be given the fields `question` as input. And you can see your past trajectory so far.\n\
Your goal is to use one or more of the supplied tools to collect any necessary information for producing `answer`.\n\n\
To do this, you will interleave next_thought, next_tool_name, and next_tool_args in each turn, and also when finishing the task.\n\
After each tool call, you receive a resulting observation, which gets appended to your trajectory.\n\n\
When writing next_thought, you may reason about the current situation and plan for future steps.\n\
When selecting the next_tool_name and its next_tool_args, the tool must be one of:\n\n\
(1) lookup, whose description is <desc>Looks up a city's population.</desc>. It takes arguments {'city': {'type': 'string', 'description': 'The city.'}}.\n\
(2) finish, whose description is <desc>Marks the task as complete. That is, signals that all information for producing the outputs, i.e. `answer`, are now available to be extracted.</desc>. It takes arguments {}.\n\
When providing `next_tool_args`, the value inside the field must be in JSON format";
    let react = agent.react().signature();
    assert_eq!(react.instructions(), expected);
    assert_eq!(react.field_summary(), "question, trajectory -> next_thought, next_tool_name, next_tool_args");
    assert_eq!(react.output("next_tool_name").unwrap().ty.python_name(), "Literal['lookup', 'finish']");
    assert_eq!(react.output("next_tool_args").unwrap().ty.python_name(), "dict");
    let extract = agent.extract().predict().signature();
    assert_eq!(extract.field_summary(), "question, trajectory -> reasoning, answer");
    assert_eq!(extract.instructions(), "Given the fields `question`, produce the fields `answer`.");
    assert!(ReAct::new("a", Signature::parse("question, trajectory -> answer").unwrap(), vec![]).is_err());
}

/// Runs one bad step, then finish and extract; returns the first observation.
async fn first_observation(tools: Vec<Arc<dyn Tool>>, tool: &str, args: &Value) -> String {
    let agent = agent(tools);
    let lm = Arc::new(
        ScriptedLm::new()
            .with_reply(act("Try.", tool, args))
            .with_reply(act("Give up.", "finish", &json!({})))
            .with_reply(answer("unknown")),
    );
    let (out, _) = run(&agent, lm.clone(), "q").await;
    assert_eq!(lm.requests().len(), 3, "the episode went on after the failure");
    assert_eq!(out.get("trajectory").unwrap()["observation_1"], "Completed.");
    out.get("trajectory").unwrap()["observation_0"].as_str().unwrap().to_string()
}

#[tokio::test]
async fn bad_arguments_become_an_observation() {
    let calls = Arc::new(AtomicUsize::new(0));
    let wrong_type = first_observation(vec![lookup(calls.clone())], "lookup", &json!({"city": 7})).await;
    assert!(wrong_type.starts_with("Execution error in lookup: invalid arguments: $.city"), "{wrong_type}");
    let extra = first_observation(vec![lookup(calls.clone())], "lookup", &json!({"city": "Porto", "year": 2020})).await;
    assert_eq!(extra, "Execution error in lookup: invalid arguments: Arg year is not in the tool's args.");
    let missing = first_observation(vec![lookup(calls.clone())], "lookup", &json!({})).await;
    assert!(
        missing.starts_with("Execution error in lookup: invalid arguments:") && missing.contains("city"),
        "{missing}"
    );
    assert_eq!(calls.load(Ordering::SeqCst), 0);
}

#[tokio::test]
async fn a_tool_error_becomes_an_observation() {
    let observation = first_observation(vec![lookup(Arc::default())], "lookup", &json!({"city": "Atlantis"})).await;
    assert_eq!(observation, "Execution error in lookup: no data for Atlantis");
}

#[tokio::test]
async fn an_unknown_tool_becomes_an_observation() {
    let observation = first_observation(vec![lookup(Arc::default())], "search_web", &json!({"q": "x"})).await;
    assert_eq!(observation, "Execution error in search_web: no tool named `search_web`; the tools are: lookup");
}

#[tokio::test]
async fn a_tool_timeout_becomes_an_observation() {
    let slow = tool_fn("slow", "Never answers.", |_: LookupArgs| async move {
        tokio::time::sleep(Duration::from_secs(60)).await;
        Ok::<_, String>("late")
    })
    .with_timeout(Some(Duration::from_millis(30)));
    let observation = first_observation(vec![Arc::new(slow)], "slow", &json!({"city": "Lisbon"})).await;
    assert_eq!(observation, "Execution error in slow: timed out after 30 ms");
}

#[tokio::test]
async fn the_loop_stops_at_max_iters_and_still_extracts() {
    let calls = Arc::new(AtomicUsize::new(0));
    let agent = agent(vec![lookup(calls.clone())]).with_max_iters(3);
    let lm = Arc::new(
        ScriptedLm::new()
            .when(is_react, act("Again.", "lookup", &json!({"city": "Porto"})))
            .with_default(answer("232000")),
    );
    let (out, cx) = run(&agent, lm, "Porto?").await;
    assert_eq!(calls.load(Ordering::SeqCst), 3);
    assert_eq!(out.get_as::<String>("answer").unwrap(), "232000");
    let trajectory = out.get("trajectory").unwrap().as_object().unwrap();
    assert_eq!(trajectory.len(), 12);
    assert!(trajectory.contains_key("observation_2") && !trajectory.contains_key("thought_3"));
    let names: Vec<String> = cx.trace().into_iter().map(|t| t.predictor).collect();
    assert_eq!(names, ["agent.react", "agent.react", "agent.react", "agent.extract"]);
}

#[tokio::test]
async fn finish_ends_the_episode_at_once() {
    let calls = Arc::new(AtomicUsize::new(0));
    let agent = agent(vec![lookup(calls.clone())]);
    let lm = Arc::new(ScriptedLm::new().with_reply(act("Easy.", "finish", &json!({}))).with_reply(answer("4")));
    let (out, _) = run(&agent, lm.clone(), "2+2?").await;
    assert_eq!(lm.requests().len(), 2);
    assert_eq!(calls.load(Ordering::SeqCst), 0);
    assert_eq!(out.get_as::<String>("answer").unwrap(), "4");
    assert_eq!(out.get("trajectory").unwrap()["observation_0"], "Completed.");
}

#[tokio::test]
async fn an_unreadable_reply_ends_the_episode_as_in_dspy() {
    let agent = agent(vec![lookup(Arc::default())]);
    let lm = Arc::new(ScriptedLm::new().with_reply("I will just chat instead.").with_reply(answer("?")));
    let (out, cx) = run(&agent, lm, "q").await;
    assert_eq!(out.get("trajectory").unwrap(), &json!({}));
    let trace = cx.trace();
    assert!(trace[0].error.is_some());
    assert_eq!(trace[1].predictor, "agent.extract");
}

#[tokio::test]
async fn an_lm_failure_is_an_error_of_the_run() {
    let agent = agent(vec![lookup(Arc::default())]);
    let cx = RunCx::new().with_lm(Arc::new(ScriptedLm::new()));
    let err = agent.forward(&cx, &question("q")).await.unwrap_err();
    assert_eq!(err.predictor(), "agent.react");
}

#[tokio::test]
async fn a_trajectory_that_outgrows_the_context_loses_its_oldest_steps_with_a_note() {
    let agent = agent(vec![lookup(Arc::default())]).with_max_iters(4);
    // The "model" accepts at most two steps of trajectory.
    let lm = Arc::new(ScriptedLm::new().with_fn(|request| {
        let trajectory = trajectory_of(request);
        if trajectory.matches("[[ ## observation_").count() > 2 {
            return Err(LmError::ContextTooLong { provider: "scripted".into(), body: "too long".into() });
        }
        Ok(if is_react(request) { act("More.", "lookup", &json!({"city": "Lisbon"})) } else { answer("545000") })
    }));
    let (out, _) = run(&agent, lm.clone(), "q").await;
    assert_eq!(out.get_as::<String>("answer").unwrap(), "545000");
    // The prediction keeps every step.
    assert_eq!(out.get("trajectory").unwrap().as_object().unwrap().len(), 16);
    let last = trajectory_of(lm.requests().last().unwrap());
    assert!(
        last.starts_with(
            "[[ ## note ## ]]\nThe oldest 2 steps were removed from the trajectory to fit the context window."
        ),
        "{last}"
    );
    assert!(!last.contains("thought_1 ##") && last.contains("[[ ## thought_2 ## ]]") && last.contains("observation_3"));
}

#[tokio::test]
async fn a_trajectory_over_the_configured_size_is_truncated_too() {
    let agent = agent(vec![lookup(Arc::default())]).with_max_iters(3).with_max_trajectory_chars(200);
    let lm = Arc::new(
        ScriptedLm::new()
            .when(is_react, act("More.", "lookup", &json!({"city": "Porto"})))
            .with_default(answer("232000")),
    );
    let (out, _) = run(&agent, lm.clone(), "q").await;
    assert_eq!(out.get("trajectory").unwrap().as_object().unwrap().len(), 12);
    let last = trajectory_of(lm.requests().last().unwrap());
    assert!(last.starts_with("[[ ## note ## ]]\nThe oldest 2 steps were"), "{last}");
    assert!(last.contains("observation_2"));
}

// --- program files ---------------------------------------------------------------------------

fn scratch(name: &str) -> std::path::PathBuf {
    let dir = std::env::temp_dir().join(format!("lmc-react-{}-{name}", std::process::id()));
    let _ = std::fs::remove_dir_all(&dir);
    std::fs::create_dir_all(&dir).unwrap();
    dir
}

#[tokio::test]
async fn a_react_step_in_a_program_file_runs_sql_with_paths_relative_to_the_file() {
    let dir = scratch("program");
    std::fs::create_dir_all(dir.join("data")).unwrap();
    let db = dir.join("data/shop.db");
    rusqlite::Connection::open(&db)
        .unwrap()
        .execute_batch("CREATE TABLE t (n INTEGER); INSERT INTO t VALUES (1), (2);")
        .unwrap();
    std::fs::create_dir_all(dir.join("programs")).unwrap();
    let path = dir.join("programs/agent.toml");
    std::fs::write(
        &path,
        r#"
name = "agent"
[[step]]
name = "agent"
module = "react"
signature = "question -> answer"
max_iters = 5
[[step.tool]]
name = "sql"
database = "../data/shop.db"
[[step.tool]]
name = "calculator"
"#,
    )
    .unwrap();
    let program = Program::load(&path).unwrap();
    assert_eq!(program.predictor_names(), ["agent.react", "agent.extract"]);
    assert_eq!(program.inputs(), ["question"]);
    assert_eq!(program.step("agent").unwrap().kind(), lmc::ModuleKind::React);
    let lm = Arc::new(
        ScriptedLm::new()
            .with_reply(act("Count.", "sql", &json!({"query": "SELECT count(*) AS n FROM t"})))
            .with_reply(act("Done.", "finish", &json!({})))
            .with_reply(answer("2")),
    );
    let cx = RunCx::new().with_lm(lm.clone());
    let out = program.forward(&cx, &question("How many rows?")).await.unwrap();
    assert_eq!(out.get_as::<String>("answer").unwrap(), "2");
    assert_eq!(out.get("trajectory").unwrap()["observation_0"], "n\n2");
    let system = &lm.requests()[0].messages[0].content;
    assert!(system.contains("(1) sql_schema") && system.contains("(2) sql,") && system.contains("(3) calculator"));
    assert!(system.contains("(4) finish"));
}

#[test]
fn react_steps_explain_bad_tools_and_settings() {
    let step = |extra: &str| {
        format!("name = \"x\"\n[[step]]\nname = \"a\"\nmodule = \"react\"\nsignature = \"q -> a\"\n{extra}")
    };
    let cases = [
        (step("[[step.tool]]\nname = \"shell\"\n"), "step `a`: unknown tool `shell`; the built-in tools are calculator, retrieve, sql"),
        (step("[[step.tool]]\nname = \"sql\"\n"), "step `a`: tool `sql` needs the setting `database`"),
        (step("[[step.tool]]\nname = \"calculator\"\nprecision = 2\n"), "tool `calculator` has no setting `precision`"),
        (step("[[step.tool]]\nname = \"calculator\"\n[[step.tool]]\nname = \"calculator\"\n"), "two tools are called `calculator`"),
        (step("max_iters = 0\n"), "`max_iters` must be at least 1"),
        (
            "name = \"x\"\n[[step]]\nname = \"a\"\nmodule = \"predict\"\nsignature = \"q -> a\"\n[[step.tool]]\nname = \"calculator\"\n".to_string(),
            "apply to `react` steps only",
        ),
    ];
    for (toml, want) in cases {
        let err = Program::from_toml_str(&toml).unwrap_err().to_string();
        assert!(err.contains(want), "want {want:?} in: {err}");
    }
    // Without tools, a react step still has `finish`.
    let bare = Program::from_toml_str(&step("")).unwrap();
    assert_eq!(bare.predictor_names(), ["a.react", "a.extract"]);
}

#[test]
fn the_shipped_sql_agent_program_loads() {
    let root = std::path::Path::new(env!("CARGO_MANIFEST_DIR"));
    let program = Program::load(root.join("programs/sql_agent.toml")).unwrap();
    assert_eq!(program.predictor_names(), ["agent.react", "agent.extract"]);
}

// --- compiling -------------------------------------------------------------------------------

/// A calculator agent: the react predictor computes `a + b` from the question, then finishes;
/// the extract step answers with the last number of the trajectory. Questions with an odd
/// index get a wrong answer, so only some runs pass.
fn compile_lm() -> Arc<ScriptedLm> {
    Arc::new(ScriptedLm::new().with_fn(|request| {
        let user = request.last_user_message().unwrap();
        let q = user.split("[[ ## question ## ]]\n").nth(1).unwrap().lines().next().unwrap().to_string();
        // "Q3: 3 + 4"
        let index: usize = q[1..q.find(':').unwrap()].parse().unwrap();
        let expression = q[q.find(':').unwrap() + 2..].to_string();
        let trajectory = trajectory_of(request);
        if is_react(request) {
            return Ok(if trajectory.is_empty() {
                act("Compute it.", "calculator", &json!({ "expression": expression }))
            } else {
                act("Done.", "finish", &json!({}))
            });
        }
        let observed = trajectory.split("[[ ## observation_0 ## ]]\n").nth(1).unwrap().lines().next().unwrap();
        Ok(answer(if index % 2 == 1 { "0" } else { observed }))
    }))
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn bootstrap_compiles_a_react_program_with_trajectories_as_demos() {
    let program: Arc<dyn Module> = Arc::new(
        Program::from_toml_str(
            "name = \"calc\"\n[[step]]\nname = \"agent\"\nmodule = \"react\"\nsignature = \"question -> answer\"\n\
             [[step.tool]]\nname = \"calculator\"\n",
        )
        .unwrap(),
    );
    let train: Vec<Example> = (0..8)
        .map(|i| {
            Example::new()
                .with("question", format!("Q{i}: {i} + {}", i * 10))
                .with("answer", (i + i * 10).to_string())
                .with_inputs(["question"])
        })
        .collect();
    let cx = CompileCx::new(program, Arc::new(ExactMatch::new("answer")), Dataset::from_examples("train.jsonl", train))
        .with_run_cx(RunCx::new().with_lm(compile_lm()));
    let optimizer = BootstrapFewShot { max_bootstrapped_demos: 4, max_labeled_demos: 4, ..Default::default() };
    let provenance = ArtifactProvenance { metric: "exact_match".into(), lm: "scripted".into(), ..Default::default() };
    let outcome = optimize::compile(&cx, &optimizer, "calc", provenance).await.unwrap();

    let artifact = &outcome.artifact;
    let react = artifact.predictors.iter().find(|p| p.name == "agent.react").unwrap();
    let extract = artifact.predictors.iter().find(|p| p.name == "agent.extract").unwrap();
    // Q0 and Q2 pass (odd questions get a wrong answer); each run makes two react calls.
    let react_questions: Vec<String> = react
        .demos
        .iter()
        .filter(|d| d.get("next_thought").is_some())
        .map(|d| d.get_as::<String>("question").unwrap())
        .collect();
    assert_eq!(react_questions, ["Q0: 0 + 0", "Q0: 0 + 0", "Q2: 2 + 20", "Q2: 2 + 20"]);
    let second_step = &react.demos[1];
    assert_eq!(second_step.get_as::<String>("next_tool_name").unwrap(), "finish");
    let trajectory = second_step.get_as::<String>("trajectory").unwrap();
    assert!(
        trajectory.contains("[[ ## tool_name_0 ## ]]\ncalculator")
            && trajectory.contains("[[ ## observation_0 ## ]]\n0")
    );
    let extract_demo = extract.demos.iter().find(|d| d.get("reasoning").is_some()).unwrap();
    assert!(extract_demo.get_as::<String>("trajectory").unwrap().contains("[[ ## observation_1 ## ]]\nCompleted."));
    assert_eq!(extract_demo.get_as::<String>("answer").unwrap(), "0");

    assert!(outcome.stopped.is_none());
}
