//! Questions asked ahead. Strategies ask the same few questions request after request (is a
//! reply waiting? how many contacts are available, up to the cap?), and each costs a round
//! trip to the database while the strategy waits. The engine remembers what each strategy
//! version asked on its last request ([`QuestionMemory`]) and sends those questions in one
//! statement (with the texter's contact count where the holdings table does not keep it),
//! while the strategy's instance is built. A question
//! the strategy then asks is answered from that statement ([`PrefetchedAnswers`]); any other
//! goes to the database as before.
//!
//! The answers are the ones the strategy would have got: the same SQL, on the same connection,
//! with nothing written in between (why that is enough: [`crate::db::Dialect::begin_read`]).

use std::collections::HashMap;
use std::sync::{Arc, Mutex};

use crate::question::{Answer, Question};
use crate::sandbox::{CallJournal, HostCall};

/// The most questions asked ahead for one request: enough for every shipped strategy, few
/// enough that a strategy asking many different questions does not make the statement slow.
const MAX_AHEAD: usize = 8;

/// The most strategy versions remembered; old versions stop being asked about after a reload,
/// so the memory is cleared when it fills.
const MAX_REMEMBERED: usize = 256;

/// Which call of a strategy the questions were asked for: a batch request asks "how many", the
/// "request texts" button asks "any at all", so each has its own memory.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub(crate) enum Operation {
    /// `findNewCampaignContact`.
    RequestBatch = 0,
    /// `hasUnassignedContactsForTexter`.
    HasUnassigned = 1,
}

/// The question memory: what each strategy version (its name and content hash) asked on its
/// last request, one map per operation, to ask again ahead of its next.
#[derive(Debug, Default)]
pub(crate) struct QuestionMemory {
    last: Mutex<[HashMap<String, Arc<[Question]>>; 2]>,
}

impl QuestionMemory {
    /// The questions to ask ahead for `version` in `operation`: the ones it asked last time,
    /// none the first time.
    pub(crate) fn recall(&self, version: &str, operation: Operation) -> Arc<[Question]> {
        let last = self.last.lock().unwrap_or_else(|poisoned| poisoned.into_inner());
        last[operation as usize]
            .get(version)
            .cloned()
            .unwrap_or_else(|| Arc::from([]))
    }

    /// Remembers what the strategy asked in `journal`, in order, without repeats.
    pub(crate) fn remember(&self, version: &str, operation: Operation, journal: &CallJournal) {
        let mut asked: Vec<Question> = Vec::new();
        for call in &journal.host_calls {
            let question = Question::from(call);
            if !asked.contains(&question) && asked.len() < MAX_AHEAD {
                asked.push(question);
            }
        }
        let mut last = self.last.lock().unwrap_or_else(|poisoned| poisoned.into_inner());
        let known = &mut last[operation as usize];
        if known.get(version).is_some_and(|questions| **questions == *asked) {
            return;
        }
        if known.len() >= MAX_REMEMBERED {
            known.clear();
        }
        known.insert(version.to_string(), Arc::from(asked));
    }
}

impl From<&HostCall> for Question {
    fn from(call: &HostCall) -> Self {
        match call {
            HostCall::CountContacts { filter, cap, .. } => Question::Count {
                filter: filter.clone(),
                cap: *cap,
            },
            HostCall::AnyContact { filter, .. } => Question::Any {
                filter: filter.clone(),
            },
            HostCall::AssignmentUserHasRole { role, .. } => Question::HasRole(*role),
        }
    }
}

/// The prefetched answers of one request: the questions asked ahead with their answers, looked
/// up by question when the strategy asks.
#[derive(Debug, Default)]
pub(crate) struct PrefetchedAnswers {
    answers: Vec<(Question, Answer)>,
    /// For each question the strategy asked, in order, whether it was answered from here.
    asked: Vec<bool>,
}

impl PrefetchedAnswers {
    /// `questions` with their `answers`, in the same order.
    pub(crate) fn new(questions: &[Question], answers: Vec<Answer>) -> Self {
        PrefetchedAnswers {
            answers: questions.iter().cloned().zip(answers).collect(),
            asked: Vec::new(),
        }
    }

    /// The answer to `question`, if it was asked ahead; either way, the strategy asked it.
    pub(crate) fn get(&mut self, question: &Question) -> Option<Answer> {
        let answer = self
            .answers
            .iter()
            .find(|(asked, _)| asked == question)
            .map(|(_, answer)| *answer);
        self.asked.push(answer.is_some());
        answer
    }

    /// For each question the strategy asked, in order, whether it was answered from here.
    pub(crate) fn answered_ahead(&self) -> &[bool] {
        &self.asked
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::filter::ContactFilter;
    use crate::model::Role;

    fn count(cap: u32) -> HostCall {
        HostCall::CountContacts {
            filter: ContactFilter::available(),
            cap: Some(cap),
            answer: 0,
        }
    }

    fn journal(calls: Vec<HostCall>) -> CallJournal {
        CallJournal {
            host_calls: calls,
            ..CallJournal::default()
        }
    }

    #[test]
    fn the_last_requests_questions_are_remembered_once_each_per_operation() {
        let memory = QuestionMemory::default();
        assert!(memory.recall("s@1", Operation::RequestBatch).is_empty());
        let role = HostCall::AssignmentUserHasRole {
            role: Role::VettedTexter,
            answer: true,
        };
        memory.remember(
            "s@1",
            Operation::RequestBatch,
            &journal(vec![role.clone(), count(10), role, count(10), count(5)]),
        );
        assert_eq!(
            *memory.recall("s@1", Operation::RequestBatch),
            [
                Question::HasRole(Role::VettedTexter),
                Question::Count {
                    filter: ContactFilter::available(),
                    cap: Some(10)
                },
                Question::Count {
                    filter: ContactFilter::available(),
                    cap: Some(5)
                },
            ]
        );
        assert!(memory.recall("s@1", Operation::HasUnassigned).is_empty());
        assert!(memory.recall("s@2", Operation::RequestBatch).is_empty());
        // The latest request replaces what was known, and at most MAX_AHEAD are kept.
        memory.remember(
            "s@1",
            Operation::RequestBatch,
            &journal((0..20).map(count).collect()),
        );
        let questions = memory.recall("s@1", Operation::RequestBatch);
        assert_eq!(questions.len(), MAX_AHEAD);
        assert_eq!(questions[0], Question::from(&count(0)));
    }

    #[test]
    fn an_answer_is_found_only_for_the_same_question() {
        let questions = [
            Question::Count {
                filter: ContactFilter::available(),
                cap: Some(10),
            },
            Question::HasRole(Role::Admin),
        ];
        let mut prefetched = PrefetchedAnswers::new(&questions, vec![Answer::Count(7), Answer::Flag(false)]);
        let count = |cap| Question::Count {
            filter: ContactFilter::available(),
            cap,
        };
        assert_eq!(prefetched.get(&count(Some(10))), Some(Answer::Count(7)));
        assert_eq!(prefetched.get(&count(Some(9))), None);
        assert_eq!(prefetched.get(&count(None)), None);
        let any = Question::Any {
            filter: ContactFilter::available(),
        };
        assert_eq!(prefetched.get(&any), None);
        assert_eq!(
            prefetched.get(&Question::HasRole(Role::Admin)),
            Some(Answer::Flag(false))
        );
        assert_eq!(prefetched.get(&Question::HasRole(Role::Texter)), None);
        assert_eq!(
            prefetched.answered_ahead(),
            [true, false, false, false, true, false]
        );
    }
}
